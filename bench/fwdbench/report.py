"""Summaries: per-contender median/min/max over rounds, cycles per packet,
ratios, and the JSON and Markdown files."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

CEILING = "ceiling"
TESTPMD = "testpmd"

#: a DUT whose rate reaches this fraction of the generator ceiling may be
#: limited by the generator rather than by its own core
CEILING_MARGIN = 0.9


def summarize(results: dict, contenders: list[dict]) -> list[dict]:
    """results: {contender name: [trial dict per round]}."""
    rows = []
    ceiling = None
    testpmd = None
    for c in contenders:
        trials = results.get(c["name"], [])
        if not trials:
            continue
        rates = [t["rx_mpps"] for t in trials]
        med = statistics.median(rates)
        tsc_hz = trials[0]["tsc_hz"]
        row = {
            "name": c["name"],
            "label": c["label"],
            "kind": c["kind"],
            "mpps_median": med,
            "mpps_min": min(rates),
            "mpps_max": max(rates),
            "mpps_rounds": rates,
            # One core polling flat out: its cycles split over the packets.
            "cycles_per_packet": tsc_hz / (med * 1e6) if med > 0 else None,
            "tsc_hz": tsc_hz,
            "trials": len(trials),
            "reruns": sum(len(t["attempts"]) + len(t["failures"]) - 1 for t in trials),
            "disturbed_trials_kept": sum(1 for t in trials if not t["clean"]),
        }
        rows.append(row)
        if c["name"] == CEILING:
            ceiling = med
        elif c["name"] == TESTPMD:
            testpmd = med
    for row in rows:
        is_dut = row["kind"] == "dut"
        row["vs_testpmd"] = row["mpps_median"] / testpmd if testpmd and is_dut else None
        row["vs_ceiling"] = row["mpps_median"] / ceiling if ceiling else None
        if row["kind"] == "dut":
            # cycles/packet describes the DUT only if its core was the
            # bottleneck, i.e. the generator could have sent more.
            row["dut_saturated"] = bool(ceiling) and row["mpps_median"] < CEILING_MARGIN * ceiling
    return rows


def _f(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def markdown(run: dict, rows: list[dict]) -> str:
    m = run["machine"]
    c = run["conditions"]
    hp = c["hugepages"]
    lines = [
        f"# Forwarding benchmark, {run['started']}",
        "",
        f"- **Machine:** {m['cpu_model']}, {m['cpus_online']} CPUs"
        + (f", {m['hypervisor']} guest" if m.get("hypervisor") else "")
        + f", TSC {run['tsc_hz'] / 1e9:.3f} GHz; {m['os']}, kernel {m['kernel']}; "
        f"DPDK {m['dpdk']}" + (f"; repository at {m['git']}" if m.get("git") else ""),
        f"- **Conditions:** {c['frame_size']}-byte frames (without CRC), "
        f"{c['dst_count']} destination(s) {c.get('dst_step', 1)} apart; generator on CPU {c['gen_cpu']}, DUT core on "
        f"CPU {c['dut_cpu']}; memif: DUT ports server (copy), generator ports client "
        f"(zero-copy), rsize {c['rsize']}; hugepages: {hp['pages_free_at_start']} x "
        f"{hp['page_size_kB'] // 1024} MB free, hugetlbfs at {hp['hugetlbfs']}; "
        f"{c['rounds']} round(s) of {c['duration_s']:g} s trials, contenders interleaved "
        "round by round; up to "
        f"{c['retries']} re-run(s) of a disturbed trial.",
        "",
        "| contender | Mpps (median) | min | max | cycles/packet | vs testpmd | vs ceiling "
        "| trials (re-runs) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["kind"] == "ceiling":
            cpp = f"({_f(r['cycles_per_packet'], '.0f')} gen.)"
        elif r.get("dut_saturated"):
            cpp = _f(r["cycles_per_packet"], ".0f")
        else:
            cpp = f"≤{_f(r['cycles_per_packet'], '.0f')}?"
        trials = f"{r['trials']} ({r['reruns']})"
        if r["disturbed_trials_kept"]:
            trials += f", {r['disturbed_trials_kept']} disturbed"
        lines.append(
            f"| {r['label']} | {r['mpps_median']:.2f} | {r['mpps_min']:.2f} | "
            f"{r['mpps_max']:.2f} | {cpp} | {_f(r['vs_testpmd'], '.2f')} | "
            f"{_f(r['vs_ceiling'] and r['vs_ceiling'] * 100, '.0f')}% | {trials} |")
    lines += [
        "",
        "- Mpps: packets per second the generator received back, over the whole "
        "trial. cycles/packet = TSC Hz / forwarded pps on the DUT's one core; it "
        "means something only while that core polls at 100% and is the bottleneck, "
        f"which we take to hold when the DUT stays under {CEILING_MARGIN:.0%} of the "
        "generator ceiling (otherwise shown as \"≤N?\": the generator may be the limit).",
        "- Generator ceiling: the generator's two ports joined by one memif link "
        "inside its own process (a server port and a zero-copy client port), so "
        "no second core and no DUT is involved; \"gen.\" is the generator's own "
        "cycles per packet for sending, one memif copy and counting.",
    ]
    stalled = run.get("generator_stalled_fraction")
    if stalled is not None:
        lines.append(
            f"- The generator's loop lost {stalled:.1%} of its time (median over kept trials) "
            "to short gaps (20 µs..1 ms: interrupts, VM exits); that is the VM's normal "
            "overhead, not a disturbance.")
    probes = run.get("probe_summary")
    if probes:
        lines.append(
            f"- Core-to-core round trip CPU {c['gen_cpu']}<->{c['dut_cpu']} around the "
            f"trials: median {probes['median']:.0f} cycles (min {probes['min']}, max "
            f"{probes['max']}; above {c['probe_bad_cycles']} counts as vCPUs far apart).")
    problems = run.get("problems", [])
    if problems:
        lines += ["", "Disturbances seen (re-run, or kept flagged when every attempt had one):",
                  ""]
        lines += [f"- {p}" for p in problems]
    notes = run.get("notes", [])
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write(run: dict, rows: list[dict], results_dir: Path, stamp: str) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"forwarding-{stamp}.json"
    md_path = results_dir / f"forwarding-{stamp}.md"
    json_path.write_text(json.dumps({**run, "summary": rows}, indent=2) + "\n")
    md_path.write_text(markdown(run, rows))
    return json_path, md_path
