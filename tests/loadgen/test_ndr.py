"""The NDR/PDR search: its logic against simulated devices (exact), and the
real thing against a forwarder with a known drop threshold (a token
bucket in vrouter-testfwd)."""

from __future__ import annotations

import pytest
from scapy.all import IP, UDP, Ether, Raw
from vrouter.loadgen.ndr import NdrSettings, ndr_search, run_ndr
from vrouter.loadgen.stats import PortStats, StreamStats, TrialResult
from vrouter.loadgen.stl import STLPktBuilder, STLStream, STLTXCont


def fake(offered: float | None, sent: float, received: float, preempted: float = 0.0,
         late: float = 0.0):
    s = StreamStats(0, "s", 0, None, 60, True, True, offered or 0.0, int(sent), int(sent) * 60,
                    int(received), int(received) * 60, 0, 0, 0, 0, 0.0, 1.0, None,
                    late=int(late))
    return TrialResult(1.0, "duration", [s], [PortStats(0, "p")], preempted_s=preempted,
                       stalled_s=preempted)


def dropping_dut(capacity: float):
    """Takes everything, forwards at most `capacity` packets per second."""
    calls = []

    def measure(pps):
        calls.append(pps)
        r = pps if pps is not None else 50e6
        return fake(pps, r, min(r, capacity))
    return measure, calls


def test_converges_on_a_dropping_dut():
    measure, calls = dropping_dut(7.3e6)
    nr = ndr_search(measure, 10e6, NdrSettings(resolution=0.01))
    assert 7.3e6 - 0.1e6 <= nr.ndr.offered_pps <= 7.3e6
    # PDR: loss <= 0.5% holds up to 7.3 / 0.995 = 7.337 Mpps
    assert nr.ndr.offered_pps <= nr.pdr.offered_pps <= 7.3e6 / 0.995
    assert nr.pdr.offered_pps > 7.3e6 - 0.1e6
    assert len(calls) <= 20 and calls[0] == 10e6


def test_back_pressure_counts_as_failure():
    """memif: a DUT that cannot keep up does not drop, the generator just
    cannot send. The shortfall fails the trial."""
    def measure(pps):
        return fake(pps, min(pps, 4e6), min(pps, 4e6))
    nr = ndr_search(measure, 10e6, NdrSettings(resolution=0.005))
    assert 4e6 * 0.99 - 0.05e6 <= nr.ndr.offered_pps <= 4e6 / 0.99


def test_generator_lateness_is_not_held_against_the_dut():
    """Packets the generator skipped because it lost its CPU are not the
    DUT's shortfall; a trial that skipped most of its schedule cannot pass;
    a port that pushed back still fails it."""
    from vrouter.loadgen.ndr import MAX_LATE, NdrTrial
    s = NdrSettings()
    # 10% of the schedule skipped while the generator did not run, no loss
    t = NdrTrial(1e6, fake(1e6, 0.9e6, 0.9e6, preempted=0.1, late=0.1e6))
    assert t.shortfall == 0 and abs(t.late_share - 0.1) < 1e-9
    assert t.result.disturbed and t.passes(0.0, s.rate_tolerance)
    # the same plus 5% the port did not take: the DUT's doing
    t = NdrTrial(1e6, fake(1e6, 0.85e6, 0.85e6, preempted=0.1, late=0.1e6))
    assert abs(t.shortfall - 0.05) < 1e-9 and not t.passes(0.0, s.rate_tolerance)
    # late for most of the trial: too little was offered to claim the rate
    late = (MAX_LATE + 0.1) * 1e6
    t = NdrTrial(1e6, fake(1e6, 1e6 - late, 1e6 - late, preempted=0.4, late=late))
    assert t.shortfall == 0 and not t.passes(0.05, s.rate_tolerance)
    # a search where every trial is disturbed this way still finds the DUT's
    # drop threshold

    def measure(pps):
        sent = 0.85 * pps
        return fake(pps, sent, min(sent, 0.85 * 3e6), preempted=0.15, late=0.15 * pps)
    nr = ndr_search(measure, 10e6, NdrSettings(resolution=0.005))
    assert 2.95e6 <= nr.ndr.offered_pps <= 3e6


def test_a_generator_too_slow_for_the_rate_is_not_excused():
    """Skipped packets the generator's stalls do not explain (it ran all the
    time, just not fast enough) are a shortfall."""
    from vrouter.loadgen.ndr import NdrTrial
    t = NdrTrial(1e6, fake(1e6, 0.8e6, 0.8e6, preempted=0.05, late=0.2e6))
    assert abs(t.late_share - 0.05) < 1e-9 and abs(t.shortfall - 0.15) < 1e-9
    assert not t.passes(0.0, 0.01)


def test_the_generators_own_slow_system_calls_are_not_excused():
    """af_packet: gaps in the generator's loop that are its own system calls
    (Linux says nobody took its CPU) excuse nothing and disturb nothing."""
    from vrouter.loadgen.ndr import NdrTrial
    r = fake(1e6, 0.7e6, 0.7e6, preempted=0.3, late=0.3e6)
    r.cpu_lost_s = 0.0
    t = NdrTrial(1e6, r)
    assert t.late_share == 0 and abs(t.shortfall - 0.3) < 1e-9
    assert not t.passes(0.0, 0.01) and not r.disturbed
    # the same trial where others did take 0.2 s of the generator's CPU
    r.cpu_lost_s = 0.2
    t = NdrTrial(1e6, r)
    assert abs(t.late_share - 0.2) < 1e-9 and abs(t.shortfall - 0.1) < 1e-9 and r.disturbed


def test_a_probed_upper_bound_that_passes_is_raised():
    """The unpaced probe (memif: the generator hammering a full ring) can
    land below what the DUT takes when paced: the search raises the bound
    while it passes, then brackets the real threshold."""
    measure, calls = dropping_dut(7e6)
    nr = ndr_search(lambda p: measure(p) if p is not None else fake(None, 5e6, 5e6), None,
                    NdrSettings(resolution=0.01))
    assert calls[:3] == [5e6, 6.25e6, 7.8125e6]
    assert nr.upper_pps == 7.8125e6 and "raised 2 time(s)" in nr.upper_source
    assert 7e6 - 0.08e6 <= nr.ndr.offered_pps <= 7e6
    assert not any("upper bound itself passed" in n for n in nr.notes)


def test_unpaced_probe_sets_the_upper_bound():
    measure, calls = dropping_dut(3e6)
    nr = ndr_search(lambda p: measure(p) if p is not None else fake(None, 5e6, 3e6), None,
                    NdrSettings())
    assert nr.upper_pps == 5e6 and nr.trials[0].probe
    assert 2.95e6 <= nr.ndr.offered_pps <= 3e6


def test_nothing_passes_and_everything_passes():
    measure, _ = dropping_dut(0)
    nr = ndr_search(measure, 1e6, NdrSettings(resolution=0.05))
    assert nr.ndr.trial is None and any("no trial passed" in n for n in nr.notes)
    measure, calls = dropping_dut(5e6)
    nr = ndr_search(measure, 1e6, NdrSettings())
    assert nr.ndr.offered_pps == 1e6 and len(calls) == 1
    assert any("upper bound itself passed" in n for n in nr.notes)


def test_disturbed_failure_is_retried_once():
    seen = {}

    def measure(pps):
        seen[pps] = seen.get(pps, 0) + 1
        if pps == 1e6 and seen[pps] == 1:
            return fake(pps, pps, pps * 0.9, preempted=0.5)   # the VM took the CPU
        return fake(pps, pps, pps)
    nr = ndr_search(measure, 1e6, NdrSettings())
    assert nr.ndr.offered_pps == 1e6 and nr.trials[0].retried and seen[1e6] == 2


def test_trial_cap():
    measure, calls = dropping_dut(1.2345e6)
    nr = ndr_search(measure, 10e6, NdrSettings(resolution=0.0001, max_trials=5))
    assert len(calls) == 5 and any("stopped after 5 trials" in n for n in nr.notes)


def test_settings_are_checked():
    with pytest.raises(Exception, match="PDR"):
        NdrSettings(ndr_loss=0.01, pdr_loss=0.001).check()
    with pytest.raises(Exception, match="ratio"):
        NdrSettings(ndr_loss=5).check()


@pytest.mark.needs_dpdk
def test_finds_the_threshold_of_a_rate_limited_forwarder(fwd_bench):
    """testfwd passes at most 200 kpps (token bucket 20 ms deep) and drops
    the rest: the search must land there, within its resolution plus what
    the bucket absorbs in a trial."""
    fwd_bench.impair("rate 200000 4000")
    pkt = Ether() / IP(src="16.0.0.1", dst="48.0.0.1") / UDP() / Raw(b"x" * 18)
    stream = STLStream(packet=STLPktBuilder(pkt=pkt), mode=STLTXCont(pps=1))
    settings = NdrSettings(trial_s=0.5, resolution=0.02, rate_tolerance=0.02,
                           max_rate="400kpps", catchup_s=0.005, pdr_loss=0.05)
    nr = run_ndr(fwd_bench.gen, [stream], settings=settings)
    assert 0.93 * 200e3 <= nr.ndr.offered_pps <= 1.06 * 200e3, nr.to_json()["trials"]
    # 5% loss is reached around 200 / 0.95 = 210.5 kpps
    assert nr.ndr.offered_pps <= nr.pdr.offered_pps <= 1.12 * 200e3
    assert nr.ndr.trial.result.latency is not None
    assert len(nr.trials) <= 12
    fwd_bench.impair()
