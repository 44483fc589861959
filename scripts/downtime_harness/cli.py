"""The command line: options, their defaults and checks, --self-test, and dispatch to
a run or to the HTTP probe.

Owns argument parsing; must not start anything before the arguments are accepted."""

import argparse
import os
import random
import unittest

from . import __doc__ as HARNESS_DOC
from .common import DAEMONS, SCENARIOS, format_interval, parse_duration_ms
from .http_probe import http_probe_main
from .run import main_run


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="downtime", description=HARNESS_DOC.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--daemon", default=None, choices=["floatip", "keepalived", "both"],
                   help="daemon under test (default floatip; both interleaves them trial by trial)")
    p.add_argument("--scenarios", default=None,
                   help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)")
    p.add_argument("--trials", type=int, default=None, help="counted trials per cell (default 5)")
    p.add_argument("--interval", default=None,
                   help="advert interval(s), comma-separated: 1s,100ms,10ms (default 1s)")
    p.add_argument("--out", help="results directory (default ./downtime-results/<UTC time>/)")
    p.add_argument("--floatip-bin", help="floatip binary (default: cargo build --release)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build")
    p.add_argument("--max-time", default="30m", help="stop and clean up after this long (30m)")
    p.add_argument("--lbs", type=int, choices=[2, 3], default=2, help="load balancers (2)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, recorded)")
    p.add_argument("--steady", default="1s", help="probes that must all answer before injection (1s)")
    p.add_argument("--tail", default="1s", help="measure this long after the takeover (1s)")
    p.add_argument("--http-timeout", default="200ms", help="an HTTP probe slower than this failed")
    p.add_argument("--max-discards", type=int, default=3,
                   help="retries of a trial that was not steady before injection (3)")
    p.add_argument("--keepalived-haproxy-check", choices=["process", "script"], default="process",
                   help="keepalived watches HAProxy with vrrp_track_process (default) or a "
                        "1 s vrrp_script running pgrep")
    p.add_argument("--floatip-no-hosts", action="store_true",
                   help="leave `hosts:` out of floatip's configuration (by default it states the "
                        "number of LBs, as the operator of a known pair would; without it a backup "
                        "waits its skew time when the master leaves, as RFC 9568 and keepalived do)")
    p.add_argument("--keep-raw", action="store_true", help="keep fping/HTTP output of every trial")
    p.add_argument("--demo", action="store_true",
                   help="short narrated run: floatip, 2 LBs, crash, haproxy, graceful, failback, 1 trial each")
    p.add_argument("--self-test", action="store_true", help="run the unit tests (parsers, statistics, configs, "
                        "arguments, report); no root needed")
    p.add_argument("--http-probe", nargs=4, metavar=("HOST", "PORT", "PERIOD_MS", "TIMEOUT_MS"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.demo:
        args.scenarios = args.scenarios or "crash,haproxy,graceful,failback"
        args.trials = 1 if args.trials is None else args.trials
    args.daemon = args.daemon or "floatip"
    args.daemons = DAEMONS if args.daemon == "both" else [args.daemon]
    args.scenarios = (args.scenarios or ",".join(SCENARIOS)).split(",")
    bad = [s for s in args.scenarios if s not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario(s) {','.join(bad)}; choose from {','.join(SCENARIOS)}")
    args.trials = 5 if args.trials is None else args.trials
    if args.trials < 1:
        p.error("--trials must be at least 1")
    try:
        args.intervals = [parse_duration_ms(x) for x in (args.interval or "1s").split(",")]
        args.max_time_ms = parse_duration_ms(args.max_time)
        args.steady_s = parse_duration_ms(args.steady) / 1000.0
        args.tail_s = parse_duration_ms(args.tail) / 1000.0
        args.http_timeout_ms = parse_duration_ms(args.http_timeout)
    except ValueError as e:
        p.error(str(e))
    for iv in args.intervals:
        if iv < 10 or iv > 40950 or iv % 10:
            p.error(f"advert interval {format_interval(iv)}: VRRPv3 needs 10ms..40950ms in 10ms steps")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2 ** 32)
    return args


def self_test():
    """The unit tests in tests/ (what `python3 -m unittest discover -s scripts` runs):
    0 if they all pass, else 1."""
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(
        os.path.join(here, "tests"), pattern="test_*.py", top_level_dir=os.path.dirname(here))
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    return 0 if result.wasSuccessful() else 1


def main(argv):
    args = parse_args(argv)
    if args.http_probe:
        host, port, period, timeout = args.http_probe
        http_probe_main(host, int(port), float(period), float(timeout))
        return 0
    if args.self_test:
        return self_test()
    return main_run(args)
