#!/usr/bin/env bash
# Hardening checks (README.md in this directory), run by run-tests.sh after
# the test suite, and by `make fuzz` (the fuzz step alone, for longer):
#   1. builds dataplane/build-san: the dataplane with AddressSanitizer and
#      UndefinedBehaviorSanitizer, and the libFuzzer harness fuzz_rx (clang);
#   2. tests: tests/packet and tests/hardening against the sanitizer build,
#      leak detection on; any ASan, LeakSanitizer or UBSan report fails, even
#      one in a process whose test passed. What these tests send is recorded
#      as fuzzer seeds on the way (VROUTER_FUZZ_SEEDS);
#   3. limits: tests/packet and tests/e2e again (normal build) with tiny
#      limits (VROUTER_LIMITS=tiny, tests/limits.py: 512 mbufs, 32 ARP
#      entries, 32 NAT sessions, 32-entry queues), so the exhaustion paths
#      run (the hardening tests choose their limits themselves);
#   4. fuzz: FUZZ_SECONDS (default 60) of fuzz_rx from the seed corpus
#      (make_corpus.py), the packet tests' frames, the regression inputs and
#      what earlier runs kept, after replaying every regression input whole;
#      any finding fails. FUZZ_MAX_LEN (default 20000) bounds input sizes.
# Usage: dataplane/fuzz/ci.sh [all|tests|limits|fuzz]...   (default all)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=dataplane/build-san
py=.venv/bin/python
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(all)
want() {
    local s
    for s in "${stages[@]}"; do [ "$s" = all ] || [ "$s" = "$1" ] && return 0; done
    return 1
}
# readable reports: ASan finds llvm-symbolizer on PATH (Debian: llvm)
if ! command -v llvm-symbolizer >/dev/null; then
    for sym in /usr/lib/llvm-*/bin/llvm-symbolizer; do
        if [ -x "$sym" ]; then export ASAN_SYMBOLIZER_PATH=$sym; fi
    done
fi
t0=$SECONDS
since() { echo "$((SECONDS - t0))s"; }

# -- 1. build
if [ ! -f $build/build.ninja ]; then
    CC=clang meson setup $build dataplane -Db_sanitize=address,undefined -Db_lundef=false \
        -Dfuzz=true >/dev/null
fi
ninja -C $build >/dev/null
echo "hardening: sanitizer build ready ($(since))"

# -- 2. the packet tests against the sanitizer build
if want tests; then
    t0=$SECONDS
    logs=$(mktemp -d /tmp/vrouter-sanitizer.XXXXXX)
    rm -rf $build/fuzz-seeds-tests
    rc=0
    echo "hardening: tests/packet and tests/hardening against $build/vrouter-dataplane"
    VROUTER_DATAPLANE=$root/$build/vrouter-dataplane \
    VROUTER_FUZZ_SEEDS=$root/$build/fuzz-seeds-tests \
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$logs/asan" \
    LSAN_OPTIONS="suppressions=$root/dataplane/fuzz/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" \
        $py -m pytest -q -p no:cacheprovider tests/packet tests/hardening || rc=$?
    if compgen -G "$logs/*" >/dev/null; then
        echo "hardening: sanitizer reports:" >&2
        for f in "$logs"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
        rc=1
    else
        rm -rf "$logs"
    fi
    [ $rc = 0 ] || { echo "hardening: the sanitizer pass failed" >&2; exit $rc; }
    echo "hardening: sanitizer pass done ($(since))"
fi

# -- 3. the packet and end-to-end tests with tiny limits
if want limits; then
    t0=$SECONDS
    echo "hardening: tests/packet and tests/e2e with tiny limits"
    VROUTER_LIMITS=tiny $py -m pytest -q -p no:cacheprovider tests/packet tests/e2e ||
        { echo "hardening: the tiny-limits pass failed" >&2; exit 1; }
    echo "hardening: tiny-limits pass done ($(since))"
fi

# -- 4. a bounded fuzz run
if want fuzz; then
    t0=$SECONDS
    seeds=$build/fuzz-seeds corpus=$build/fuzz-corpus artifacts=$build/fuzz-findings
    rm -rf $seeds
    $py dataplane/fuzz/make_corpus.py $seeds
    mkdir -p $corpus $artifacts
    extra=()
    [ -d $build/fuzz-seeds-tests ] && extra+=("$build/fuzz-seeds-tests")
    # every regression input whole, whatever -max_len cuts them to below
    if ! $build/fuzz/fuzz_rx dataplane/fuzz/regressions/* >$build/fuzz-regressions.log 2>&1; then
        tail -60 $build/fuzz-regressions.log >&2
        echo "hardening: a regression input fails again (dataplane/fuzz/regressions)" >&2
        exit 1
    fi
    echo "hardening: fuzzing for ${FUZZ_SECONDS:-60}s (findings go to $artifacts)"
    # shellcheck disable=SC2086 # FUZZ_ARGS: extra libFuzzer flags, word-split
    if ! $build/fuzz/fuzz_rx -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -max_len="${FUZZ_MAX_LEN:-20000}" \
            -artifact_prefix=$artifacts/ -print_final_stats=1 ${FUZZ_ARGS:-} \
            $corpus $seeds dataplane/fuzz/regressions "${extra[@]}" >$build/fuzz.log 2>&1; then
        grep -v '^#[0-9]' $build/fuzz.log | tail -60 >&2
        echo "hardening: the fuzzer found something: $(ls $artifacts)" >&2
        echo "  reproduce: $build/fuzz/fuzz_rx $artifacts/<file>" >&2
        echo "  decode:    $py dataplane/fuzz/show_input.py $artifacts/<file>" >&2
        echo "  then:      a packet test in tests/hardening, the input in dataplane/fuzz/regressions/" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|new_units_added)|DONE' $build/fuzz.log | tr '\n' ' '
    echo
    echo "hardening: fuzz run done ($(since))"
fi
