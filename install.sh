#!/usr/bin/env bash
# Installs what vrouter needs on Debian 12, builds the dataplane and sets up
# the Python environment in .venv. Safe to run again; run as root.
#   ./install.sh            runtime + build
#   ./install.sh --test     also what the test suite needs
#   ./install.sh --runtime  only the Debian packages a built tree needs to run
#                           (the container image's final stage): no compiler,
#                           no headers; builds nothing, makes no .venv
set -euo pipefail
cd "$(dirname "$0")"

want_test=no
want_runtime_only=no
case "${1:-}" in
    --test) want_test=yes ;;
    --runtime) want_runtime_only=yes ;;
esac

# What a built vrouter runs on: the DPDK libraries the dataplane links
# (tests/deploy checks this list against the binary), the mempool driver and
# the poll-mode drivers of every port kind the README lists, Python, and the
# tools the demo hosts, the control namespaces and `vrouter ping/traceroute` use.
runtime_pkgs=(python3 iproute2 ethtool procps iputils-ping traceroute tini
      librte-eal23 librte-ethdev23 librte-mbuf23 librte-mempool23 librte-ring23
      librte-hash23 librte-rcu23 librte-fib23 librte-rib23 librte-ip-frag23
      librte-net-ring23 librte-bpf23 libpcap0.8
      librte-mempool-ring23 librte-bus-vdev23 librte-bus-pci23
      librte-net-af-packet23 librte-net-af-xdp23 librte-net-tap23 librte-net-memif23
      librte-net-pcap23 librte-net-null23 librte-net-vhost23 librte-net-virtio23
      librte-net-iavf23 librte-net-ice23 librte-net-i40e23 librte-net-ixgbe23
      librte-net-mlx5-23)
pkgs=(libdpdk-dev dpdk-dev libpcap-dev pkg-config meson ninja-build gcc python3 python3-venv
      python3-pip iproute2 iputils-ping ethtool procps)
[ "$want_test" = yes ] && pkgs+=(traceroute iperf3 tcpdump curl gdb tini bird2 clang libclang-rt-14-dev llvm)
[ "$want_runtime_only" = yes ] && pkgs=("${runtime_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$want_runtime_only" = yes ]; then
    echo "install.sh: runtime packages ready"
    exit 0
fi

# The dataplane (C, DPDK).
[ -f dataplane/build/build.ninja ] || meson setup dataplane/build dataplane >/dev/null
ninja -C dataplane/build >/dev/null

# The management plane (Python) in its own environment: Debian's system
# Python refuses pip installs (PEP 668).
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
if [ "$want_test" = yes ]; then
    .venv/bin/pip install -q -e '.[test]'
else
    .venv/bin/pip install -q -e . 'grpcio-tools>=1.60'
fi
# The gRPC modules (appliance/vrouter/v1/*_pb2*.py) are generated, not committed.
.venv/bin/python -m vrouter.v1
echo "install.sh: ready (dataplane/build/vrouter-dataplane, .venv/bin/vrouter)"
