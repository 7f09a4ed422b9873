#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Run as root:
# the tests start the real dataplane and build hosts in network namespaces.
# With no arguments, the hardening pass follows (dataplane/fuzz/ci.sh): the
# packet tests against the ASan+UBSan build, the packet tests with tiny
# limits, and a bounded fuzz run (FUZZ_SECONDS, default 60).
# VROUTER_HARDENING=0 skips it; arguments are pytest's and skip it too.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --test
rc=0
.venv/bin/python -m pytest -q -p no:cacheprovider tests "$@" || rc=$?
if [ $# -eq 0 ] && [ "${VROUTER_HARDENING:-1}" != 0 ]; then
    dataplane/fuzz/ci.sh all || rc=1
fi
exit $rc
