# vrouter appliance image.
#
# The build stage runs install.sh, the script the README and CI use: it builds
# the dataplane and the Python environment the tests test. The final stage gets
# only what runs: install.sh --runtime (the DPDK shared libraries and PMDs,
# Python, iproute2, ethtool, tini; no compiler, no headers), the dataplane
# binary, the environment and the management plane's sources.
#
#   docker build -t vrouter .
#   docker compose -f deploy/compose.yaml up        # the demo; see README.md ("Containers and Kubernetes")
#
# The router's configuration is mounted at /etc/vrouter/router.yaml; the API
# listens on /run/vrouter/api.sock and, when the configuration says
# api: {tcp: "0.0.0.0:50051"}, on TCP port 50051.

ARG BASE=debian:12-slim

FROM ${BASE} AS build
WORKDIR /opt/vrouter
COPY install.sh pyproject.toml ./
COPY proto/ proto/
COPY appliance/ appliance/
COPY dataplane/ dataplane/
# Build (the same command as the README), then drop what only the build
# needed from the environment: protoc (the gRPC modules are generated) and
# pip's caches; compile the sources once so the first start is not slower.
RUN ./install.sh \
 && .venv/bin/pip uninstall -q -y grpcio-tools \
 && .venv/bin/python -m compileall -q appliance \
 && rm -rf /root/.cache

FROM ${BASE}
WORKDIR /opt/vrouter
COPY install.sh ./
RUN ./install.sh --runtime && apt-get clean && rm -rf /var/lib/apt/lists/*
# Same paths as in the build stage: the environment's scripts and its
# editable install point at /opt/vrouter.
COPY --from=build /opt/vrouter/.venv .venv
COPY --from=build /opt/vrouter/appliance appliance
COPY --from=build /opt/vrouter/dataplane/build/vrouter-dataplane dataplane/build/vrouter-dataplane
COPY configs/ configs/
COPY deploy/entrypoint.sh deploy/healthcheck.py deploy/
ENV PATH=/opt/vrouter/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VROUTER_DATAPLANE=/opt/vrouter/dataplane/build/vrouter-dataplane
# the gRPC API (when api.tcp is set) and the metrics (when metrics.listen is)
EXPOSE 50051 9469
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/vrouter/deploy/healthcheck.py", "--ready"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/vrouter/deploy/entrypoint.sh"]
