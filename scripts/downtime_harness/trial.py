"""One trial: a fresh lab, the daemon on the LBs, probes and a capture from the client,
a failure injected at a random point of the advertisement cycle, the outage measured,
everything torn down, the logs kept. Returns the trial's record (one line of
trials.jsonl).

Owns the order of a trial; must not aggregate trials (report) or parse text itself
(measurement)."""

import os
import shutil
import signal
import stat
import sys
import time

from .common import ENTRY, FPING_PERIOD_MS, HTTP_PERIOD_MS, HTTP_PORT, LB_PRIO, VIP, drain_path, write_file
from .daemons import Daemon, floatip_hosts
from .measurement import (fping_outage, http_outage, http_steady, parse_floatip_events, parse_fping,
                          parse_http_probe, parse_tcpdump_vrrp, steady_before, vrrp_timing)
from .protocol import master_down_ms, protocol_bound_ms, roles


def save_trial_files(work, trial_dir, keep_raw):
    """Move a trial's logs (*.log) from work into trial_dir, and its raw probe output and
    capture (*.out) too when keep_raw, else delete them: work is clean for the next trial."""
    os.makedirs(trial_dir, exist_ok=True)
    for name in os.listdir(work):
        src = os.path.join(work, name)
        if name.endswith(".log") or (keep_raw and name.endswith(".out")):
            shutil.copy(src, trial_dir)
            os.remove(src)
        elif name.endswith(".out"):
            os.remove(src)


def inject(lab, daemon, scenario):
    """The failure of the scenario, on lb1 (see SCENARIO_TEXT)."""
    if scenario == "crash":
        lab.kill(daemon.name("lb1"), signal.SIGKILL, wait=False)
        lab.ip("lb1", "link", "set", "eth0", "down")
    elif scenario == "link":
        lab.ip("lb1", "link", "set", "eth0", "down")
    elif scenario == "graceful":
        lab.kill(daemon.name("lb1"), signal.SIGTERM, wait=False)
    elif scenario == "haproxy":
        lab.kill("haproxy-lb1", signal.SIGKILL, wait=False)
    elif scenario == "drain":
        write_file(drain_path(lab.work, "lb1"), "1\n")
    elif scenario == "failback":
        daemon.start("lb1")


def floatip_events(lab, t_inject, t_end):
    """What the floatip daemons logged while clients were measured, sorted:
    [ms from the injection, lb, message] (floatip logs carry microseconds)."""
    events = []
    for lb in lab.lbs:
        try:
            with open(os.path.join(lab.work, f"floatip-{lb}.log")) as f:
                for t, msg in parse_floatip_events(f.read()):
                    # Only what happened while clients were measured, not
                    # the teardown (which stops HAProxy and the daemons).
                    if t_inject - 0.05 <= t <= t_end:
                        events.append([round((t - t_inject) * 1000.0, 1), lb, msg])
        except OSError:
            pass
    events.sort()
    return events


def run_trial(args, lab, daemon_kind, scenario, interval_ms, rng, trial_dir):
    """One trial on a fresh topology. Returns the trial record (dict)."""
    bound = protocol_bound_ms(scenario, interval_ms)
    checks = scenario in ("haproxy", "drain")
    hosts = floatip_hosts(args, len(lab.lbs))
    daemon = Daemon(daemon_kind, args.floatip_bin, interval_ms, lab, checks,
                    args.keepalived_haproxy_check, hosts)
    rec = {"scenario": scenario, "daemon": daemon_kind, "interval_ms": interval_ms,
           "lbs": len(lab.lbs), "bound_ms": bound}
    if daemon_kind == "floatip":
        rec["floatip_hosts"] = hosts
    md = master_down_ms(LB_PRIO["lb2"], interval_ms) / 1000.0
    # How long a holder may take to settle, before the injection and after it.
    settle_s = md + 2 * interval_ms / 1000 + 8
    first, expected = roles(scenario)
    t_setup = time.time()
    try:
        lab.build()
        for lb in lab.lbs:
            os.makedirs(os.path.join(lab.work, lb), exist_ok=True)
            write_file(drain_path(lab.work, lb), "0\n")
        lab.start_haproxies()
        for lb in lab.lbs:
            if not (scenario == "failback" and lb == "lb1"):
                daemon.start(lb)
        lab.wait_holder(first, timeout_s=settle_s)
        # Probes from the client.
        fping_out = os.path.join(lab.work, "fping.out")
        http_out = os.path.join(lab.work, "http.out")
        with open(fping_out, "wb") as fo:
            lab.start("fping", "client", ["fping", "-p", "1", "-i", "1", "-t", "50", "-D", "-l", VIP],
                      stdout=fo)
        vrrp_out = os.path.join(lab.work, "vrrp.out")
        with open(vrrp_out, "wb") as vo:
            # Adverts, and ARP (with MACs, -e) to see where the client's ARP cache points.
            lab.start("tcpdump", "client", ["tcpdump", "-i", "eth0", "-n", "-e", "-tt", "-l", "-p",
                                            "ip", "proto", "112", "or", "arp"], stdout=vo)
        with open(http_out, "wb") as ho:
            lab.start("http", "client", [sys.executable, ENTRY, "--http-probe",
                                         VIP, str(HTTP_PORT), str(HTTP_PERIOD_MS),
                                         str(args.http_timeout_ms)], stdout=ho)
        # The adverts before the injection must be in the capture: tcpdump says
        # "listening on" once it captures.
        lab.wait_log("tcpdump", "listening on", timeout_s=10)
        time.sleep(0.3 + args.steady_s)
        phase = rng.uniform(0.0, interval_ms / 1000.0)
        time.sleep(phase)
        rec["phase_ms"] = round(phase * 1000.0, 3)
        rec["setup_s"] = round(time.time() - t_setup, 3)
        # Inject.
        t_inject = time.time()
        inject(lab, daemon, scenario)
        rec["t_inject"] = t_inject
        rec["inject_call_ms"] = round((time.time() - t_inject) * 1000.0, 3)
        t_held, seen_both = lab.wait_holder(expected, timeout_s=settle_s)
        rec["holder_after"] = expected
        rec["takeover_ms"] = round((t_held - t_inject) * 1000.0, 1)  # ~50 ms polling resolution
        rec["seen_two_holders"] = seen_both
        time.sleep(args.tail_s)
        t_end = time.time()
        lab.kill("fping", signal.SIGINT, wait=True)
        lab.kill("http", signal.SIGTERM, wait=True)
        lab.kill("tcpdump", signal.SIGINT, wait=True)
        if scenario == "graceful":
            rc = lab.procs[daemon.name("lb1")].wait(timeout=max(10, 5 * md))
            rec["stopped_exit_code"] = rc
        rec["trial_s"] = round(time.time() - t_setup, 3)
        with open(fping_out) as f:
            ftext = f.read()
        with open(http_out) as f:
            htext = f.read()
        with open(vrrp_out) as f:
            vtext = f.read()
    finally:
        lab.teardown()
    replies, timeouts = parse_fping(ftext)
    probes = parse_http_probe(htext)
    icmp_ok = [(t, True) for t, _ in replies] + [(t, False) for t, _ in timeouts]
    steady_icmp, why_i = steady_before(sorted(icmp_ok), t_inject, args.steady_s, FPING_PERIOD_MS)
    steady_http, why_h = http_steady(probes, t_inject, args.steady_s)
    rec["icmp"] = fping_outage(replies, t_inject, t_end)
    rec["http"] = http_outage(probes, t_inject, t_end)
    rec["vrrp"] = vrrp_timing(parse_tcpdump_vrrp(vtext), t_inject, first, expected, scenario,
                              interval_ms, rec["icmp"])
    # What the daemons said, in ms from the injection (floatip logs carry microseconds).
    rec["events"] = floatip_events(lab, t_inject, t_end) if daemon_kind == "floatip" else []
    rec["probes"] = {"icmp_replies": len(replies), "icmp_timeouts": len(timeouts),
                     "http_ok": sum(1 for _, ok, _ in probes if ok),
                     "http_fail": sum(1 for _, ok, _ in probes if not ok)}
    rec["valid"] = steady_icmp and steady_http
    rec["discard_reason"] = "; ".join(
        x for x in (why_i and f"icmp: {why_i}", why_h and f"http: {why_h}") if x)
    # Odd trials keep their raw probe output and capture: discarded, never recovered, or
    # more than 10 ms beyond what the protocol allows for their phase.
    keep_raw = args.keep_raw or not rec["valid"] or not rec["icmp"]["recovered"] \
        or not rec["http"]["recovered"] or (rec["vrrp"]["excess_ms"] or 0) > 10
    save_trial_files(lab.work, trial_dir, keep_raw)
    for lb in lab.lbs:
        d = os.path.join(lab.work, lb)
        if os.path.isdir(d):
            shutil.copytree(d, os.path.join(trial_dir, lb), dirs_exist_ok=True,
                            ignore=not_regular)
            shutil.rmtree(d)
    return rec


def not_regular(directory, names):
    """copytree's ignore: what cannot be copied as a file (the daemon's control socket)."""
    def skip(name):
        try:
            mode = os.lstat(os.path.join(directory, name)).st_mode
        except OSError:
            return True
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
    return [name for name in names if skip(name)]
