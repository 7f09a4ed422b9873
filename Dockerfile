# vrouter appliance image. Built with the same install script as the README
# and CI, so the image runs what the tests tested.
#   docker build -t vrouter .
#   docker run --rm --privileged --network host -v $PWD/configs:/etc/vrouter vrouter -c /etc/vrouter/two-subnets.yaml
FROM debian:12-slim
WORKDIR /opt/vrouter
COPY . .
RUN ./install.sh && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/vrouter/.venv/bin:$PATH
ENTRYPOINT ["vrouter", "run"]
