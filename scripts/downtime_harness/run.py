"""A whole run: preflight (root, tools), the floatip binary, the work directory and the
lab, signals and --max-time, the cells (interval x scenario x trial x daemon) with their
retries, the outputs, and the exit status.

Owns the run's lifetime and its cleanup on every path; must not measure (trial) or
format (report) by itself."""

import atexit
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .common import RUN_ID, VIP, Abort, TrialError, format_interval, log
from .daemons import (check_floatip_config, check_keepalived_config, floatip_config,
                      floatip_hosts, keepalived_config)
from .lab import Lab, copy_haproxy_binaries
from .protocol import protocol_bound_ms
from .report import (describe_trial, failures, format_table, narrate_trial, print_footnotes,
                     summarize, trial_label, write_plots, write_summary)
from .trial import run_trial, save_trial_files


def preflight(args):
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root (network namespaces): run it with sudo")
    need = {"ip": "iproute2", "fping": "fping", "haproxy": "haproxy", "tcpdump": "tcpdump"}
    if "keepalived" in args.daemons:
        need["keepalived"] = "keepalived"
    missing = [pkg for tool, pkg in need.items() if shutil.which(tool) is None]
    if missing:
        problems.append(f"missing tools: apt-get install {' '.join(sorted(set(missing)))}")
    if problems:
        for p in problems:
            log(f"downtime: {p}")
        sys.exit(2)


def find_floatip(args):
    if args.floatip_bin:
        if not os.access(args.floatip_bin, os.X_OK):
            sys.exit(f"downtime: --floatip-bin {args.floatip_bin} is not an executable")
        return os.path.abspath(args.floatip_bin)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
    binary = os.path.join(target, "release", "floatip")
    if args.no_build:
        if not os.access(binary, os.X_OK):
            sys.exit(f"downtime: {binary} missing: cargo build --release (or --floatip-bin PATH)")
        return binary
    if shutil.which("cargo") is None:
        if os.access(binary, os.X_OK):
            return binary
        sys.exit("downtime: no cargo to build floatip; pass --floatip-bin PATH")
    log("downtime: cargo build --release --locked (skip with --no-build or --floatip-bin)")
    r = subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=repo)
    if r.returncode != 0:
        sys.exit("downtime: cargo build failed")
    return binary


def main_run(args):
    preflight(args)
    if "floatip" in args.daemons:
        args.floatip_bin = find_floatip(args)
    rng = random.Random(args.seed)
    out_dir = args.out or os.path.join(
        "downtime-results", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"fdt{RUN_ID}-")
    copy_haproxy_binaries(work)
    lab = Lab(work, args.lbs)
    cleaned = []

    def cleanup():
        if cleaned:
            return
        cleaned.append(1)
        # A second Ctrl-C must not cut the cleanup short; every command in it is bounded
        # by a timeout, so it ends by itself.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        signal.alarm(0)
        try:
            lab.teardown()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)

    def on_signal(signum, _frame):
        raise Abort(signal.Signals(signum).name)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(max(1, int(args.max_time_ms / 1000)))

    started = time.time()
    records, unsupported = [], {}
    aborted = None
    trials_path = os.path.join(out_dir, "trials.jsonl")
    try:
        # Refuse scenarios the daemon cannot express, once, before any trial.
        for d in args.daemons:
            for s in args.scenarios:
                if s not in ("haproxy", "drain"):
                    continue
                if d == "floatip":
                    ok, msg = check_floatip_config(
                        args.floatip_bin,
                        floatip_config("lb1", args.intervals[0], work, True,
                                       floatip_hosts(args, args.lbs)), work)
                else:
                    ok, msg = check_keepalived_config(
                        keepalived_config("lb1", args.intervals[0], work, True,
                                          args.keepalived_haproxy_check), work)
                if not ok:
                    unsupported[(d, s)] = msg.strip().splitlines()[:6]
                    log(f"downtime: {s} with {d} cannot run: its configuration (checks) is "
                        f"refused:\n    " + "\n    ".join(unsupported[(d, s)]))
        if args.demo:
            log(f"downtime demo: {args.lbs} nodes on one bridge, floatip on each; "
                f"lb1 priority 150, lb2 100; VIP {VIP}; advert interval "
                f"{format_interval(args.intervals[0])}. A client pings the VIP every 1 ms "
                f"and fetches a page through it every 5 ms.\n")
        with open(trials_path, "a") as jsonl:
            for interval_ms in args.intervals:
                for scenario in args.scenarios:
                    for trial in range(1, args.trials + 1):
                        for d in args.daemons:
                            if (d, scenario) in unsupported:
                                continue
                            for attempt in range(1, args.max_discards + 2):
                                tdir = os.path.join(out_dir, "logs",
                                                    f"{format_interval(interval_ms)}-{scenario}-{d}-{trial}-{attempt}")
                                t_trial = time.time()
                                try:
                                    rec = run_trial(args, lab, d, scenario, interval_ms, rng, tdir)
                                except TrialError as e:
                                    rec = {"scenario": scenario, "daemon": d, "interval_ms": interval_ms,
                                           "lbs": args.lbs, "valid": False, "error": str(e),
                                           "discard_reason": f"error: {e}",
                                           "bound_ms": protocol_bound_ms(scenario, interval_ms)}
                                    log(f"{trial_label(interval_ms, scenario, d, trial, args.trials)} "
                                        f"ERROR: {e} (logs in {tdir})")
                                    save_trial_files(work, tdir, keep_raw=True)
                                # Wall time of the whole trial, setup and teardown included.
                                rec.update(trial=trial, attempt=attempt,
                                           wall_s=round(time.time() - t_trial, 3))
                                jsonl.write(json.dumps(rec) + "\n")
                                jsonl.flush()
                                records.append(rec)
                                if "error" not in rec:
                                    if args.demo:
                                        print(narrate_trial(rec, d), flush=True)
                                    else:
                                        log(describe_trial(rec, trial, args.trials))
                                if rec["valid"]:
                                    break
    except Abort as e:
        aborted = str(e)
        log(f"downtime: stopping ({'--max-time reached' if aborted == 'SIGALRM' else aborted}); cleaning up")
    finally:
        signal.alarm(0)
        cleanup()
    elapsed = time.time() - started
    rows = summarize(records, args, unsupported)
    write_summary(out_dir, args, records, rows, unsupported, elapsed, aborted)
    write_plots(out_dir, args, records)
    if args.demo:
        print(f"\nresults, the daemons' logs and plots in {out_dir}/")
    else:
        print()
        print(format_table(rows))
        print_footnotes(records, elapsed, out_dir)
    if aborted:
        print(f"aborted early: {aborted}")
        return 3
    failed = failures(rows, records)
    if failed:
        for f in failed:
            print(f"FAILED: {f}")
        return 1
    return 0
