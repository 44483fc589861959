"""Statistics of a cell and the RFC 9568 bounds the trials are held to."""

import unittest

from downtime_harness.protocol import (expected_range_ms, master_down_ms, protocol_bound_ms, roles,
                                       skew_ms)
from downtime_harness.stats import percentile, stats


class Stats(unittest.TestCase):
    def test_stats(self):
        s = stats([5, 1, 4, 2, 3, None])
        self.assertEqual((s["n"], s["min"], s["median"], s["max"]), (5, 1, 3, 5))
        self.assertAlmostEqual(s["p95"], 4.8)
        self.assertAlmostEqual(s["mean"], 3.0)

    def test_empty(self):
        self.assertEqual(stats([]), {"n": 0, "min": None, "median": None, "p95": None,
                                     "max": None, "mean": None})
        self.assertEqual(stats([None, None])["n"], 0)
        self.assertIsNone(percentile([], 50))

    def test_percentile(self):
        self.assertEqual(percentile([7], 95), 7)
        self.assertAlmostEqual(percentile(list(range(1, 21)), 95), 19.05)
        self.assertEqual(percentile([1, 2, 3, 4], 0), 1)
        self.assertEqual(percentile([1, 2, 3, 4], 100), 4)
        self.assertAlmostEqual(percentile([1, 2, 3, 4], 50), 2.5)


class Bounds(unittest.TestCase):
    def test_timers(self):
        self.assertAlmostEqual(skew_ms(100, 1000), 609.375)
        self.assertAlmostEqual(master_down_ms(100, 1000), 3609.375)

    def test_bounds(self):
        self.assertAlmostEqual(protocol_bound_ms("crash", 100), 360.9375)
        self.assertAlmostEqual(protocol_bound_ms("link", 100), 360.9375)
        self.assertAlmostEqual(protocol_bound_ms("haproxy", 1000), 609.375)
        for scenario in ("graceful", "drain", "failback"):
            self.assertEqual(protocol_bound_ms(scenario, 1000), 0.0)
        self.assertEqual(expected_range_ms("crash", 1000), (2609.375, 3609.375))
        self.assertEqual(expected_range_ms("haproxy", 100), (60.9375, 60.9375))

    def test_roles(self):
        self.assertEqual(roles("crash"), ("lb1", "lb2"))
        self.assertEqual(roles("failback"), ("lb2", "lb1"))


if __name__ == "__main__":
    unittest.main()
