"""Argument parsing: defaults, --demo, and what is refused."""

import contextlib
import io
import unittest

from downtime_harness.cli import parse_args
from downtime_harness.common import DAEMONS, SCENARIOS, format_interval, parse_duration_ms


class Args(unittest.TestCase):
    def refused(self, argv):
        """parse_args(argv) exits (argparse's usage error): (exit status, message)."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            parse_args(argv)
        return cm.exception.code, err.getvalue()

    def test_defaults(self):
        a = parse_args([])
        self.assertEqual(a.daemon, "floatip")
        self.assertEqual(a.daemons, ["floatip"])
        self.assertEqual(a.scenarios, SCENARIOS)
        self.assertEqual(a.trials, 5)
        self.assertEqual(a.intervals, [1000.0])
        self.assertEqual(a.max_time_ms, 1800000.0)
        self.assertEqual((a.steady_s, a.tail_s, a.http_timeout_ms), (1.0, 1.0, 200.0))
        self.assertEqual((a.lbs, a.max_discards), (2, 3))
        self.assertIsInstance(a.seed, int)
        self.assertFalse(a.demo or a.self_test or a.keep_raw)

    def test_ci_command_line(self):
        a = parse_args(["--daemon", "both", "--scenarios", "crash,graceful", "--trials", "1",
                        "--interval", "100ms", "--floatip-bin", "/x/floatip", "--max-time", "3m",
                        "--out", "/tmp/o", "--seed", "7"])
        self.assertEqual(a.daemons, DAEMONS)
        self.assertEqual(a.scenarios, ["crash", "graceful"])
        self.assertEqual((a.trials, a.intervals, a.max_time_ms), (1, [100.0], 180000.0))
        self.assertEqual((a.floatip_bin, a.out, a.seed), ("/x/floatip", "/tmp/o", 7))

    def test_demo(self):
        a = parse_args(["--demo"])
        self.assertEqual(a.scenarios, ["crash", "haproxy", "graceful", "failback"])
        self.assertEqual(a.trials, 1)
        self.assertEqual(a.daemons, ["floatip"])
        a = parse_args(["--demo", "--trials", "3", "--scenarios", "link"])
        self.assertEqual((a.trials, a.scenarios), (3, ["link"]))

    def test_intervals(self):
        self.assertEqual(parse_args(["--interval", "1s,100ms,10ms"]).intervals,
                         [1000.0, 100.0, 10.0])

    def test_trials_zero_refused(self):
        code, msg = self.refused(["--trials", "0"])
        self.assertEqual(code, 2)
        self.assertIn("--trials must be at least 1", msg)
        self.assertEqual(self.refused(["--trials", "-3"])[0], 2)
        self.assertEqual(self.refused(["--demo", "--trials", "0"])[0], 2)

    def test_refused(self):
        code, msg = self.refused(["--scenarios", "crash,meteor"])
        self.assertEqual(code, 2)
        self.assertIn("unknown scenario(s) meteor", msg)
        for iv in ("5ms", "15ms", "41s"):
            code, msg = self.refused(["--interval", iv])
            self.assertEqual(code, 2)
            self.assertIn("VRRPv3 needs 10ms..40950ms in 10ms steps", msg)
        code, msg = self.refused(["--max-time", "5"])
        self.assertEqual(code, 2)
        self.assertIn("not a duration with a unit", msg)
        self.assertEqual(self.refused(["--daemon", "vrrpd"])[0], 2)
        self.assertEqual(self.refused(["--lbs", "4"])[0], 2)

    def test_http_probe_option(self):
        a = parse_args(["--http-probe", "192.0.2.100", "80", "5.0", "200.0"])
        self.assertEqual(a.http_probe, ["192.0.2.100", "80", "5.0", "200.0"])


class Durations(unittest.TestCase):
    def test_durations(self):
        self.assertEqual(parse_duration_ms("100ms"), 100.0)
        self.assertEqual(parse_duration_ms("1s"), 1000.0)
        self.assertEqual(parse_duration_ms("1.5s"), 1500.0)
        self.assertEqual(parse_duration_ms("30m"), 1800000.0)
        self.assertEqual(parse_duration_ms(" 2h "), 7200000.0)
        for bad in ("1", "ms", "1 d", "-1s", ""):
            with self.assertRaises(ValueError):
                parse_duration_ms(bad)

    def test_format_interval(self):
        self.assertEqual(format_interval(1000), "1s")
        self.assertEqual(format_interval(2000.0), "2s")
        self.assertEqual(format_interval(1500), "1500ms")
        self.assertEqual(format_interval(100), "100ms")
        self.assertEqual(format_interval(10.0), "10ms")


if __name__ == "__main__":
    unittest.main()
