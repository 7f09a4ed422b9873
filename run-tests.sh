#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Run as root:
# the tests start the real dataplane and build hosts in network namespaces.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --test
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"
