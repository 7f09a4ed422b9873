"""The NDR benchmark's report: the whole run as JSON, and a Markdown page
with the machine, the conditions, one table per section (NDR, PDR,
latency, cycles per packet, ratio to vrouter), the router's own counters
over the same trials, and what went wrong."""

from __future__ import annotations

import json
from pathlib import Path

#: a contender within this fraction of its section's generator ceiling may
#: be measuring the generator rather than itself
CEILING_MARGIN = 0.9
CEILINGS = {"memif": "ceiling", "veth": "ceiling-veth"}
ROUTER = {"memif": "vrouter", "veth": "vrouter-afp"}


def _f(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def point(c: dict, which: str) -> dict | None:
    p = c.get("ndr_search", {}).get(which)
    return p if p and p.get("found") else None


#: issue 4's targets: NAT forwards at least this share of plain forwarding's
#: rate, and sets up at least this many sessions per second on one core
NAT_RATE_TARGET = 0.5
SETUP_TARGET = 1_000_000


def nat_summary(run: dict) -> dict | None:
    """NAT beside plain forwarding (same run, same port kind, one worker
    core) and the new-session setup rate, against the targets."""
    by = {c["name"]: c for c in run["contenders"] if c.get("status") == "ok"}
    plain, nat, setup = by.get("vrouter"), by.get("vrouter-nat"), by.get("vrouter-nat-setup")
    if not (nat or setup):
        return None
    out: dict = {}

    def fwd(c):
        if not c:
            return None
        ndr = point(c, "ndr")
        sat = c.get("saturated") or {}
        return {"ndr_mpps": ndr and ndr["mpps"], "pdr_mpps": (point(c, "pdr") or {}).get("mpps"),
                "saturated_mpps": sat.get("rx_mpps"),
                "cycles_per_packet_at_ndr": c.get("cycles_per_packet_at_ndr"),
                "router_cycles_per_packet_at_ndr": c.get("router_cycles_per_packet_at_ndr"),
                "router_cycles_per_packet_saturated": sat.get("router_cycles_per_packet")}
    out["plain"] = fwd(plain)
    out["nat_100k"] = fwd(nat)
    if nat:
        out["nat_100k"]["sessions_established"] = (nat.get("established") or {}).get(
            "sessions_created")
    p, n = out["plain"], out["nat_100k"]
    if p and n and p["ndr_mpps"] and n["ndr_mpps"]:
        out["nat_vs_plain_ndr"] = n["ndr_mpps"] / p["ndr_mpps"]
        out["nat_rate_target"] = NAT_RATE_TARGET
        out["nat_rate_target_met"] = out["nat_vs_plain_ndr"] >= NAT_RATE_TARGET
    if p and n and p["router_cycles_per_packet_at_ndr"] and n["router_cycles_per_packet_at_ndr"]:
        out["nat_extra_router_cycles_per_packet"] = (n["router_cycles_per_packet_at_ndr"]
                                                     - p["router_cycles_per_packet_at_ndr"])
    if setup:
        ns = setup.get("new_sessions") or {}
        out["setup"] = ns
        best = max(filter(None, [(ns.get("ndr") or {}).get("sessions_per_s"),
                                 (ns.get("saturated") or {}).get("sessions_per_s")]),
                   default=None)
        out["setup_sessions_per_s"] = best
        out["setup_target"] = SETUP_TARGET
        out["setup_target_met"] = best is not None and best >= SETUP_TARGET
    k, kn = by.get("kernel"), by.get("kernel-nat")
    if k and kn and point(k, "ndr") and point(kn, "ndr"):
        out["kernel_nat_vs_kernel_ndr"] = point(kn, "ndr")["mpps"] / point(k, "ndr")["mpps"]
    return out


def analyse(run: dict) -> None:
    """Adds ratios and ceiling checks to every contender."""
    by = {c["name"]: c for c in run["contenders"]}
    for c in run["contenders"]:
        ndr = point(c, "ndr")
        ceil = by.get(CEILINGS[c["section"]])
        ceil_ndr = point(ceil, "ndr") if ceil else None
        ceil_sat = (ceil or {}).get("saturated", {}).get("rx_mpps")
        top = max(filter(None, [ceil_ndr and ceil_ndr["mpps"], ceil_sat]), default=None)
        c["generator_ceiling_mpps"] = top
        if ndr and top and c["name"] != CEILINGS[c["section"]]:
            c["generator_bound"] = ndr["mpps"] >= CEILING_MARGIN * top
        router = by.get(ROUTER[c["section"]])
        rndr = point(router, "ndr") if router else None
        if (ndr and rndr and rndr["mpps"] > 0 and c["name"] != CEILINGS[c["section"]]
                and not c.get("new_sessions")):
            c["ndr_vs_vrouter"] = ndr["mpps"] / rndr["mpps"]
    nat = nat_summary(run)
    if nat is not None:
        run["nat"] = nat


def _lat(p: dict | None) -> str:
    if not p or not p.get("latency"):
        return "–"
    lat = p["latency"]
    return f"{lat['avg_us']:.1f} / {lat['p99_us']:.1f} / {lat['max_us']:.0f}"


def section_table(run: dict, section: str) -> list[str]:
    rows = [c for c in run["contenders"] if c["section"] == section]
    if not rows:
        return []
    lines = ["| contender | NDR Mpps | NDR Gbps L1 | PDR Mpps | latency at NDR avg / p99 / max "
             "µs | at PDR | cycles/packet at NDR (saturated) | router's own cycles/packet at "
             "NDR (saturated) | NDR vs vrouter |",
             "|---|---:|---:|---:|---|---|---:|---:|---:|"]
    for c in rows:
        if c.get("status") != "ok":
            why = (c.get("reason") or "").splitlines()[0][:150] if c.get("reason") else ""
            lines.append(f"| {c['label']} | {c.get('status')}: {why} | | | | | | | |")
            continue
        ndr, pdr = point(c, "ndr"), point(c, "pdr")
        sat = c.get("saturated") or {}
        flag = " ⚠ generator-bound?" if c.get("generator_bound") else ""
        if c["name"] == CEILINGS[section]:
            cpp = "(generator)"
        else:
            cpp = (f"{_f(c.get('cycles_per_packet_at_ndr'), '.0f')} "
                   f"({_f(sat.get('cycles_per_packet'), '.0f')})")
        own = "–"
        if c.get("router_cycles_per_packet_at_ndr") or sat.get("router_cycles_per_packet"):
            own = (f"{_f(c.get('router_cycles_per_packet_at_ndr'), '.0f')} "
                   f"({_f(sat.get('router_cycles_per_packet'), '.0f')})")
        lines.append(
            f"| {c['label']}{flag} | {_f(ndr and ndr['mpps'], '.3f')} | "
            f"{_f(ndr and ndr['gbps_l1'], '.2f')} | {_f(pdr and pdr['mpps'], '.3f')} | "
            f"{_lat(ndr)} | {_lat(pdr)} | {cpp} | {own} | "
            f"{_f(c.get('ndr_vs_vrouter'), '.2f')} |")
    return lines


def router_counters(run: dict) -> list[str]:
    out = []
    for c in run["contenders"]:
        if not c["name"].startswith("vrouter") or c.get("status") != "ok":
            continue
        ndr_c = c.get("ndr_trial_dut_counters") or {}
        sat_c = (c.get("saturated") or {}).get("dut_counters") or {}
        keys = sorted(k for k in set(ndr_c) | set(sat_c)
                      if "drop" in k or k.endswith(("rx_packets", "tx_packets", "ip_forwarded",
                                                    "nat_translated", "nat_sessions_created")))
        if not keys:
            continue
        out += [f"**{c['label']}** ({c['section']}): counter growth over the NDR trial and "
                "over the saturating (unpaced) trial",
                "", "| counter | at NDR | saturated |", "|---|---:|---:|"]
        out += [f"| {k} | {int(ndr_c.get(k, 0))} | {int(sat_c.get(k, 0))} |" for k in keys]
        out.append("")
    return out


def nat_section(run: dict) -> list[str]:
    nat = run.get("nat")
    if not nat:
        return []
    lines = ["## NAT (issue 4): beside plain forwarding, and the session setup rate", ""]
    p, n = nat.get("plain"), nat.get("nat_100k")
    if p or n:
        lines += ["| memif, one worker core | NDR Mpps | PDR Mpps | saturated Mpps | "
                  "cycles/packet at NDR | router's own cycles/packet at NDR (saturated) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for label, d in (("plain forwarding, 1 route", p),
                         ("source NAT, "
                          f"{(n or {}).get('sessions_established') or '?'} sessions "
                          "established", n)):
            if d:
                lines.append(
                    f"| {label} | {_f(d['ndr_mpps'], '.3f')} | {_f(d['pdr_mpps'], '.3f')} | "
                    f"{_f(d['saturated_mpps'], '.3f')} | "
                    f"{_f(d['cycles_per_packet_at_ndr'], '.0f')} | "
                    f"{_f(d['router_cycles_per_packet_at_ndr'], '.0f')} "
                    f"({_f(d['router_cycles_per_packet_saturated'], '.0f')}) |")
        lines.append("")
    if "nat_vs_plain_ndr" in nat:
        met = "met" if nat["nat_rate_target_met"] else "**missed**"
        lines.append(f"- NAT forwards at **{nat['nat_vs_plain_ndr']:.0%}** of plain forwarding's "
                     f"NDR (target: at least {nat['nat_rate_target']:.0%}: {met}).")
    if "nat_extra_router_cycles_per_packet" in nat:
        lines.append(f"- NAT adds {nat['nat_extra_router_cycles_per_packet']:.0f} cycles per "
                     "packet by the router's own count (lookup of the session, rewrite, "
                     "checksums).")
    if "kernel_nat_vs_kernel_ndr" in nat:
        lines.append(f"- For comparison, the Linux kernel with nftables masquerade forwards at "
                     f"{nat['kernel_nat_vs_kernel_ndr']:.0%} of its own plain rate (veth).")
    setup = nat.get("setup")
    if setup:
        lines += ["", "New sessions (every packet a new flow, the table flushed before each "
                  "trial, one worker core):", "",
                  "| trial | sessions created | sessions/s | forwarded pps | new per received "
                  "| router cycles per new session | drops |", "|---|---:|---:|---:|---:|---:|---|"]
        for which, label in (("ndr", "NDR (no loss)"), ("pdr", "PDR"),
                             ("saturated", "saturated (unpaced)")):
            d = setup.get(which)
            if not d:
                continue
            drops = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in d["drops"].items()) or "none"
            lines.append(f"| {label} | {d['sessions_created']:,} | "
                         f"{_f(d['sessions_per_s'], ',.0f')} | {_f(d['forwarded_pps'], ',.0f')} | "
                         f"{_f(d['new_per_received'], '.3f')} | "
                         f"{_f(d['router_cycles_per_session'], '.0f')} | {drops} |")
        best = nat.get("setup_sessions_per_s")
        met = "met" if nat.get("setup_target_met") else "**missed**"
        lines += ["", f"- Setup rate: **{_f(best, ',.0f')} sessions/s** on one core (target: "
                  f"at least {nat['setup_target']:,}: {met})."]
    lines.append("")
    return lines


def markdown(run: dict) -> str:
    m, cond = run["machine"], run["conditions"]
    hz = next((c.get("tsc_hz") for c in run["contenders"] if c.get("tsc_hz")), None)
    hp = cond.get("hugepages") or {}
    lines = [
        f"# NDR benchmark, {run['started']}",
        "",
        f"- **Machine:** {m['cpu_model']}, {m['cpus_online']} CPUs"
        + (f", {m['hypervisor']} guest" if m.get("hypervisor") else "")
        + (f", TSC {hz / 1e9:.3f} GHz" if hz else "")
        + f"; {m['os']}, kernel {m['kernel']}; DPDK {m['dpdk']}"
        + (f"; repository at {m['git']}" if m.get("git") else ""),
        f"- **Traffic:** {cond['frame_bytes']}-byte frames ({cond['frame_bytes'] + 4} with FCS), "
        f"UDP, {cond['dst_count']} destinations {cond['dst_step']} addresses apart, plus a "
        f"{cond['latency_stream_share']:.1%} latency stream (sequence numbers, timestamps); "
        f"NAT contenders: {cond['nat_sessions']:,} flows (source address and port varying, "
        "the destination port following the source port).",
        f"- **Search:** trials of {cond['trial_s']:g} s, resolution {cond['resolution']:.1%} of "
        f"the upper bound (what the ports take unpaced); NDR = no loss, PDR = loss at most "
        f"{cond['pdr_loss']:.1%}; a trial also fails when the ports took less than "
        f"{1 - cond['rate_tolerance']:.0%} of the offered rate (memif pushes back instead of "
        "dropping).",
        f"- **Placement:** generator on CPU {cond['gen_cpu']}, device under test (forwarding "
        f"core and everything else) on CPU {cond['dut_cpu']}; memif: DUT ports server (copy), "
        f"generator ports zero-copy clients, rsize {cond['memif_rsize']}; veth: af_packet on "
        "both sides, namespaces, RPS steering the DUT side to the DUT CPU; hugepages: "
        f"{hp.get('pages_free_at_start', '?')} x 2 MB.",
        f"- The machine was {run.get('busy_before', 0):.0%} busy before the run.",
    ]
    others = run.get("other_cpu_users") or []
    if others:
        lines.append("- **Other processes used the CPUs during the run** (they take time from the "
                     "generator or the DUT; numbers are lower than on an idle machine): "
                     + "; ".join(f"`{o['process'][:90]}` {o['cpu_s']} s" for o in others[:6]))
    lines.append("")
    for section, title in (("memif", "memif, one DUT core"),
                           ("veth", "veth pairs between network namespaces")):
        t = section_table(run, section)
        if t:
            lines += [f"## {title}", "", *t, ""]
            ceil = next((c for c in run["contenders"]
                         if c["name"] == CEILINGS[section] and c.get("status") == "ok"), None)
            if ceil:
                sat = ceil.get("saturated") or {}
                lines.append(f"Generator ceiling on this port kind, same traffic, same run: "
                             f"{_f(sat.get('rx_mpps'), '.2f')} Mpps unpaced. A contender within "
                             f"{CEILING_MARGIN:.0%} of it is marked ⚠: the harness may be its "
                             "limit.")
                lines.append("")
    lines += [
        "cycles/packet: the DUT CPU's busy cycles divided by the packets it forwarded, in the "
        "NDR trial (and in brackets in the unpaced trial that saturates it). A poll-mode DUT "
        "is always busy: its figure is TSC Hz / pps, its whole budget per packet; the "
        "kernel's busy time comes from /proc/stat. af_packet DUTs can collapse when "
        "saturated (the kernel's receive work starves them on their shared CPU), hence "
        "their huge saturated figures.",
        "router's own cycles/packet: the worker's cycles in loop iterations that had packets, "
        "per packet (its own TSC accounting over the same trial): what forwarding costs "
        "without the empty polls.",
        "NDR vs vrouter: the contender's NDR over vrouter's (1 route) in the same section.",
        "",
    ]
    lines += nat_section(run)
    rc = router_counters(run)
    if rc:
        lines += ["## The router's own counters", "", *rc]
    plots = [c for c in run["contenders"] if c.get("plot")]
    if plots:
        lines += ["Plots of each search (loss, back-pressure and latency against the offered "
                  "rate): " + ", ".join(f"[{c['name']}]({c['plot']})" for c in plots), ""]
    notes = []
    for c in run["contenders"]:
        if c.get("status") == "ok":
            for n in c["ndr_search"].get("notes", []):
                notes.append(f"{c['label']} ({c['section']}): {n}")
            if c.get("disturbed_trials"):
                notes.append(f"{c['label']} ({c['section']}): {c['disturbed_trials']} trial(s) "
                             "disturbed (generator preempted, DUT waiting for its CPU, or vCPUs "
                             "far apart); failing ones were run again")
        elif c.get("reason"):
            notes.append(f"{c['label']} ({c['section']}) {c['status']}: {c['reason']}")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write(run: dict, results_dir: Path, stamp: str) -> tuple[Path, Path]:
    analyse(run)
    results_dir.mkdir(parents=True, exist_ok=True)
    jp = results_dir / f"ndr-{stamp}.json"
    mp = results_dir / f"ndr-{stamp}.md"
    jp.write_text(json.dumps(run, indent=2) + "\n")
    mp.write_text(markdown(run))
    return jp, mp
