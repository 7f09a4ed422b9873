#!/usr/bin/env bash
# Installs what vrouter needs on Debian 12, builds the dataplane and sets up
# the Python environment in .venv. Safe to run again; run as root.
#   ./install.sh          runtime + build
#   ./install.sh --test   also what the test suite needs
set -euo pipefail
cd "$(dirname "$0")"

want_test=no
[ "${1:-}" = "--test" ] && want_test=yes

pkgs=(libdpdk-dev dpdk-dev pkg-config meson ninja-build gcc python3 python3-venv
      python3-pip iproute2 iputils-ping ethtool procps)
[ "$want_test" = yes ] && pkgs+=(traceroute iperf3 tcpdump curl gdb)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
    .venv/bin/pip install -q -e .
fi
echo "install.sh: ready (dataplane/build/vrouter-dataplane, .venv/bin/vrouter)"
