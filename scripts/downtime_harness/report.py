"""What a run tells: the table of figures per cell, a line or a narrated story per
trial, the footnotes, summary.json and the plots, and why a run fails.

Owns the output format; must not run trials or parse daemon output."""

import json
import os
import re
import subprocess
import sys

from .common import SCENARIO_TEXT, VIP, format_interval, write_file
from .plot import svg_plot
from .protocol import expected_range_ms, protocol_bound_ms, roles
from .stats import stats


def cell_records(records, interval_ms, scenario, daemon):
    """The trials of one cell (interval x scenario x daemon), counted or not."""
    return [r for r in records if r["scenario"] == scenario and r["daemon"] == daemon
            and r["interval_ms"] == interval_ms]


def cell_name(interval_ms, scenario, daemon):
    return f"{format_interval(interval_ms)} {scenario} {daemon}"


def trial_label(interval_ms, scenario, daemon, n, total):
    return f"[{cell_name(interval_ms, scenario, daemon)} {n}/{total}]"


def _fmt(v, width=8):
    return f"{'-':>{width}}" if v is None else f"{v:>{width}.0f}"


def format_table(rows):
    """rows: dicts with interval, scenario, daemon, metric, stats, bound, discarded.
    The excess metric goes to a second table."""
    main = [r for r in rows if r["metric"] != "excess"]
    excess = [r for r in rows if r["metric"] == "excess"]
    text = _format_rows(main)
    if excess:
        text += ("\n\nICMP outage beyond what RFC 9568 allows for the phase of each failure "
                 "(from the adverts the client captured):\n" + _format_rows(excess))
    return text


def _format_rows(rows):
    head = (f"{'interval':>8}  {'scenario':<9} {'daemon':<10} {'metric':<5} {'n':>3} {'disc':>4} "
            f"{'min':>8} {'median':>8} {'p95':>8} {'max':>8} {'bound':>8}  (ms)")
    lines = [head, "-" * len(head)]
    for r in rows:
        s = r["stats"]
        bound = r["bound"] if r["daemon"] == "floatip" else None
        note = f"  {r['note']}" if r.get("note") else ""
        lines.append(
            f"{format_interval(r['interval']):>8}  {r['scenario']:<9} {r['daemon']:<10} "
            f"{r['metric']:<5} {s['n']:>3} {r['discarded']:>4} {_fmt(s['min'])} {_fmt(s['median'])} "
            f"{_fmt(s['p95'])} {_fmt(s['max'])} {_fmt(bound)}{note}")
    return "\n".join(lines)


def outage_text(x, unrecovered=" (NOT RECOVERED)"):
    """An outage dict (fping_outage, http_outage) as text: '312 ms', 'n/a', or with
    `unrecovered` appended when clients never got the VIP back."""
    if x["ms"] is None:
        return "n/a"
    return f"{x['ms']:.0f} ms" + ("" if x["recovered"] else unrecovered)


def describe_trial(rec, n, total):
    s, d = rec["scenario"], rec["daemon"]
    i, h = rec["icmp"], rec["http"]
    line = (f"{trial_label(rec['interval_ms'], s, d, n, total)} "
            f"phase {rec.get('phase_ms', 0):.0f} ms; {rec.get('holder_after')} held the VIP "
            f"~{rec.get('takeover_ms', 0):.0f} ms after injection; clients lost ICMP {outage_text(i)}, "
            f"HTTP {outage_text(h)} (bound {rec['bound_ms']:.0f} ms)")
    if not rec["valid"]:
        line += f"  DISCARDED: {rec['discard_reason']}"
    return line


def narrate_trial(rec, daemon_kind):
    """The --demo story of one trial: who was master, what failed, what the daemons did,
    how long clients lost the VIP."""
    s = rec["scenario"]
    first, then = roles(s)
    v = rec.get("vrrp", {})
    out = [f"== {s}: {SCENARIO_TEXT[s].format(daemon=daemon_kind)}",
           f"   before: {first} was master and alone held {VIP}; the client's pings and "
           f"requests all answered"]
    action = SCENARIO_TEXT[s].format(daemon=daemon_kind)
    if v.get("since_last_ms") is not None:
        action += (f", {v['since_last_ms']:.0f} ms after {first}'s last advertisement "
                   f"(interval {format_interval(rec['interval_ms'])})")
    timeline = [(0.0, action)]
    timeline += [(ms, f"{lb}: {msg}") for ms, lb, msg in rec.get("events", [])]
    if v.get("prio0_ms") is not None and s != "failback":
        timeline.append((v["prio0_ms"], f"{first} advertised priority 0 (leaving)"))
    if v.get("new_master_ms") is not None:
        timeline.append((v["new_master_ms"], f"{then}'s first advertisement as master"))
    for ms, text in sorted(timeline, key=lambda x: x[0]):
        out.append(f"   {'t=0' if ms == 0 else f't={ms:+.0f} ms':>11}  {text}")
    pred = v.get("predicted_ms")
    why = (f"; RFC 9568 allows {pred:.0f} ms for this phase" if pred is not None
           else f"; protocol bound {rec['bound_ms']:.0f} ms")
    gone = " (never came back)"
    out.append(f"   clients lost the VIP for: ping {outage_text(rec['icmp'], gone)}, "
               f"HTTP {outage_text(rec['http'], gone)}{why}")
    if not rec["valid"]:
        out.append(f"   (not counted: {rec['discard_reason']})")
    return "\n".join(out)


def print_footnotes(records, elapsed, out_dir):
    print("\nmetric icmp: fping -p 1 -i 1 -t 50 (longest run of lost replies); http: GET through "
          "the VIP every 5 ms (longest run of failed requests); disc: trials discarded (not "
          "steady before injection, or setup error) and retried.")
    print("excess: the ICMP outage minus what RFC 9568 allows for the phase of that very "
          "failure (the old master's last advert + master_down, counted from the last answer "
          "before the outage); above 0, clients waited longer than the protocol requires.")
    print("bound: what RFC 9568 allows (crash, link: master_down = 3 x interval + skew of lb2; "
          "haproxy: skew; graceful, drain, failback: 0).\nA crash or link loss at a random "
          "point of the cycle loses between bound - interval and bound: median ~ bound - "
          "interval/2.")
    print(f"\n{sum(1 for r in records if r['valid'])} trials counted, "
          f"{sum(1 for r in records if not r['valid'])} discarded, in {elapsed:.0f} s; "
          f"results in {out_dir}/")


def summarize(records, args, unsupported):
    rows = []
    for interval_ms in args.intervals:
        for scenario in args.scenarios:
            for d in args.daemons:
                cell = cell_records(records, interval_ms, scenario, d)
                valid = [r for r in cell if r["valid"]]
                if not cell and (d, scenario) not in unsupported:
                    continue  # not reached (aborted run)
                for metric in ("icmp", "http"):
                    note = ""
                    if (d, scenario) in unsupported:
                        note = "unsupported: configuration refused"
                    unrec = sum(1 for r in valid if not r[metric]["recovered"])
                    if unrec:
                        note = f"{unrec} never recovered"
                    rows.append({
                        "interval": interval_ms, "scenario": scenario, "daemon": d, "metric": metric,
                        "stats": stats([r[metric]["ms"] for r in valid]),
                        "bound": protocol_bound_ms(scenario, interval_ms),
                        "discarded": len(cell) - len(valid), "note": note,
                    })
                if scenario in ("crash", "link"):
                    rows.append({
                        "interval": interval_ms, "scenario": scenario, "daemon": d,
                        "metric": "excess",
                        "stats": stats([r.get("vrrp", {}).get("excess_ms") for r in valid]),
                        "bound": None, "discarded": len(cell) - len(valid), "note": "",
                    })
    return rows


def wall_per_trial(records):
    out = {}
    for r in records:
        if "wall_s" in r:
            key = f"{format_interval(r['interval_ms'])}/{r['scenario']}/{r['daemon']}"
            out.setdefault(key, []).append(r["wall_s"])
    return {k: round(sum(v) / len(v), 2) for k, v in out.items()}


def machine_info():
    info = {"uname": " ".join(os.uname()), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu"] = m.group(1) if m else None
    except OSError:
        pass
    for tool, argv in (("keepalived", ["keepalived", "--version"]), ("haproxy", ["haproxy", "-v"]),
                       ("fping", ["fping", "--version"])):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=5)
            info[tool] = r.stdout.strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            info[tool] = None
    return info


def write_summary(out_dir, args, records, rows, unsupported, elapsed, aborted):
    summary = {
        "command": " ".join(sys.argv), "seed": args.seed, "elapsed_s": round(elapsed, 1),
        "aborted": aborted, "machine": machine_info(), "floatip_bin": args.floatip_bin,
        "rows": rows,
        "unsupported": {f"{d}/{s}": m for (d, s), m in unsupported.items()},
        "wall_s_per_trial": wall_per_trial(records),
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


def write_plots(out_dir, args, records):
    """One SVG per interval and scenario that has a counted trial."""
    for interval_ms in args.intervals:
        for scenario in args.scenarios:
            groups = []
            for d in args.daemons:
                for metric in ("icmp", "http"):
                    vals = [r[metric]["ms"] for r in cell_records(records, interval_ms, scenario, d)
                            if r["valid"]]
                    groups.append((f"{d} {metric}", vals))
            if any(v for _, v in groups):
                title = f"{scenario}, advert interval {format_interval(interval_ms)}, {args.lbs} LBs"
                path = os.path.join(out_dir, f"{scenario}-{format_interval(interval_ms)}.svg")
                write_file(path, svg_plot(title, groups, protocol_bound_ms(scenario, interval_ms) or None,
                                          expected_range_ms(scenario, interval_ms)))


def failures(rows, records):
    """Why a finished run fails (exit status 1): a cell without a counted trial, clients
    that never got the VIP back, floatip exiting non-zero when stopped."""
    out = []
    empty = sorted({cell_name(r["interval"], r["scenario"], r["daemon"])
                    for r in rows if r["metric"] == "icmp" and r["stats"]["n"] == 0})
    if empty:
        out.append(f"no counted trial for {', '.join(empty)}")
    for r in rows:
        if "never recovered" in r.get("note", ""):
            out.append(f"{cell_name(r['interval'], r['scenario'], r['daemon'])} "
                       f"{r['metric']}: {r['note']}")
    for r in records:
        if r["daemon"] == "floatip" and r.get("stopped_exit_code") not in (None, 0):
            out.append(f"{format_interval(r['interval_ms'])} {r['scenario']} trial "
                       f"{r.get('trial')}/{r.get('attempt')}: floatip exited with "
                       f"{r['stopped_exit_code']} when stopped")
    return out
