# Top-level targets. Everything needs root (DPDK, namespaces, hugepages).
#   make build   the dataplane, the traffic generator, the Python environment
#   make test    the whole test suite (./run-tests.sh)
#   make bench   the benchmark (bench/ndrbench.py): NDR/PDR of vrouter and its
#                peers; BENCH_ARGS="--quick" for a smoke run
#   make fuzz    the dataplane's libFuzzer harness (dataplane/fuzz/) for
#                FUZZ_SECONDS (default 3600; CI runs 60 s), inputs up to 70000
#                bytes (CI: 20000); FUZZ_ARGS for more libFuzzer flags
#   make soak    the soak test (tests/hardening/test_soak.py) for SOAK_SECONDS
#                (default 600; the suite runs it for 20 s)
.PHONY: build test bench

build:
	./install.sh
	[ -f loadgen/build/build.ninja ] || meson setup loadgen/build loadgen
	ninja -C loadgen/build

test:
	./run-tests.sh

bench: build
	.venv/bin/vrouter bench $(BENCH_ARGS)

.PHONY: fuzz
FUZZ_SECONDS ?= 3600
fuzz:
	./install.sh --test
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MAX_LEN=70000 dataplane/fuzz/ci.sh fuzz

.PHONY: soak
SOAK_SECONDS ?= 600
soak:
	./install.sh --test
	VROUTER_SOAK_SECONDS=$(SOAK_SECONDS) .venv/bin/python -m pytest -q -s -p no:cacheprovider \
		tests/hardening/test_soak.py
