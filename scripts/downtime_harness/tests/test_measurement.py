"""Parsing of fping, HTTP probe, tcpdump and floatip output, and the outages,
steadiness and advert timings computed from it."""

import unittest

from downtime_harness.measurement import (fping_outage, http_outage, http_steady, longest_outage,
                                          parse_floatip_events, parse_fping, parse_http_probe,
                                          parse_tcpdump_vrrp, steady_before, vrrp_timing)

FPING = "\n".join([
    "[1000.0000] 192.0.2.100 : [0], 64 bytes, 0.1 ms (0.1 avg, 0% loss)",
    "[1000.0010] 192.0.2.100 : [1], 64 bytes, 0.1 ms (0.1 avg, 0% loss)",
    "[1000.0020] 192.0.2.100 : [2], 64 bytes, 0.1 ms (0.1 avg, 0% loss)",
    "[1000.0530] 192.0.2.100 : [3], timed out (0.1 avg, 25% loss)",
    "[1000.0540] 192.0.2.100 : [4], timed out (0.1 avg, 40% loss)",
    "[1000.0550] 192.0.2.100 : [5], timed out (0.1 avg, 50% loss)",
    "[1000.0060] 192.0.2.100 : [6], 64 bytes, 0.1 ms (0.1 avg, 42% loss)",
    "[1000.0070] 192.0.2.100 : [7], 64 bytes, 0.1 ms (0.1 avg, 37% loss)",
    "",
    " 192.0.2.100 : xmt/rcv/%loss = 8/5/37%, min/avg/max = 0.1/0.1/0.1",
    "ICMP Host Unreachable from 192.0.2.50 for ICMP Echo sent to 192.0.2.100",
])

TCPDUMP = "\n".join([
    "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode",
    "100.000000 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, intvl 10cs, length 12",
    "100.100000 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 150, intvl 10cs, length 12",
    "100.150000 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 52, prio 150, intvl 10cs, length 12",
    "100.200000 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 0, intvl 10cs, length 12",
    "100.420000 IP 192.0.2.12 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 100, intvl 10cs, length 12",
    "100.420001 02:aa:bb:cc:dd:ee > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 54: "
    "192.0.2.12 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 100, intvl 10cs, length 12",
    "100.410000 02:aa:bb:cc:dd:ee > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: "
    "Request who-has 192.0.2.100 tell 192.0.2.100, length 28",
])


class Fping(unittest.TestCase):
    def test_parse_fping(self):
        replies, timeouts = parse_fping(FPING)
        self.assertEqual([s for _, s in replies], [0, 1, 2, 6, 7])
        self.assertEqual([s for _, s in timeouts], [3, 4, 5])
        # A reply's time is its send time: printed time minus the round-trip time.
        self.assertAlmostEqual(replies[3][0], 1000.006 - 0.0001)
        # A timeout's time is when fping gave up.
        self.assertAlmostEqual(timeouts[0][0], 1000.053)

    def test_parse_fping_ignores_other_lines(self):
        self.assertEqual(parse_fping("garbage\n\n 192.0.2.100 : xmt/rcv/%loss = 1/1/0%\n"), ([], []))

    def test_reply_without_rtt_keeps_printed_time(self):
        replies, _ = parse_fping("[5.0000] 192.0.2.100 : [0], 64 bytes (odd)")
        self.assertEqual(replies, [(5.0, 0)])

    def test_fping_outage(self):
        replies, _ = parse_fping(FPING)
        o = fping_outage(replies, t_inject=1000.0025, t_end=1000.1)
        self.assertTrue(o["recovered"])
        self.assertEqual(o["lost"], 3)
        self.assertAlmostEqual(o["ms"], 3.0, places=3)  # 4 ms gap minus one 1 ms period

    def test_late_reply_is_not_downtime(self):
        text = "\n".join(
            [f"[{100 + i / 1000:.4f}] 192.0.2.100 : [{i}], 64 bytes, 0.1 ms (0.1 avg, 0% loss)"
             for i in range(10)]
            + ["[100.0300] 192.0.2.100 : [10], 64 bytes, 20.1 ms (2 avg, 0% loss)"]
            + [f"[{100 + i / 1000:.4f}] 192.0.2.100 : [{i}], 64 bytes, 0.1 ms (2 avg, 0% loss)"
               for i in range(31, 40)])
        replies, _ = parse_fping(text)
        o = fping_outage(replies, t_inject=100.0095, t_end=100.1)
        # seq 10 was late (20 ms) but answered; seq 11..30 were never answered.
        self.assertEqual(o["lost"], 20)
        self.assertAlmostEqual(o["ms"], 20.0, places=2)
        text2 = text.replace("[100.0310] 192.0.2.100 : [31]", "[100.0310] 192.0.2.100 : [11]")
        replies, _ = parse_fping("\n".join(text2.splitlines()[:12]))
        o = fping_outage(replies, t_inject=100.0095, t_end=100.1)
        self.assertEqual((o["lost"], o["ms"]), (0, 0.0))

    def test_outage_not_recovered(self):
        replies, _ = parse_fping(FPING)
        o = fping_outage(replies[:3], t_inject=1000.0025, t_end=1000.5025)
        self.assertFalse(o["recovered"])
        self.assertAlmostEqual(o["ms"], 500.6, places=3)  # from the last send, 1000.0019

    def test_outage_without_answer_before_injection(self):
        replies, _ = parse_fping(FPING)
        self.assertEqual(fping_outage(replies, t_inject=999.0, t_end=1001.0),
                         {"ms": None, "lost": None, "recovered": False})


class LongestOutage(unittest.TestCase):
    def test_outage_ignores_gaps_before_injection(self):
        succ = [(0.0, False), (0.5, True), (0.501, False), (0.502, False), (0.503, False),
                (0.6, True), (0.601, False)]
        ms, start, end = longest_outage(succ, t_inject=0.55, period_ms=1.0)
        self.assertAlmostEqual(ms, 96.0, places=3)
        self.assertEqual((start, end), (0.503, 0.6))

    def test_outage_zero_when_nothing_lost(self):
        succ = [(i / 1000, False) for i in range(100)] + [(0.2, False)]  # a stall, no loss
        ms, _, _ = longest_outage(succ, t_inject=0.0505, period_ms=1.0)
        self.assertAlmostEqual(ms, 0.0, places=6)

    def test_open_and_missing_ends(self):
        self.assertEqual(longest_outage([(1.0, False)], t_inject=0.5, period_ms=1.0),
                         (None, None, None))
        self.assertEqual(longest_outage([(1.0, False)], t_inject=1.5, period_ms=1.0),
                         (None, 1.0, None))


class Http(unittest.TestCase):
    def test_http_probe_parse_and_outage(self):
        text = "\n".join(
            [f"{10 + i * 0.005:.6f} {10 + i * 0.005 + 0.001:.6f} ok 200" for i in range(10)]
            + [f"{10.05 + i * 0.005:.6f} {10.25 + i * 0.005:.6f} fail timeout" for i in range(20)]
            + [f"{10.15 + i * 0.005:.6f} {10.151 + i * 0.005:.6f} ok 200" for i in range(10)]
            + ["garbage line", "1.0 2.0 maybe", "x y ok 200"])
        probes = parse_http_probe(text)
        self.assertEqual(len(probes), 40)
        o = http_outage(probes, t_inject=10.046, t_end=11.0)
        self.assertTrue(o["recovered"])
        self.assertAlmostEqual(o["ms"], 105.0 - 5.0, places=3)
        self.assertEqual(o["lost"], 20)

    def test_http_outage_not_recovered(self):
        probes = [(10.0, True, 10.001), (10.005, False, 10.2)]
        o = http_outage(probes, t_inject=10.002, t_end=10.5)
        self.assertFalse(o["recovered"])
        self.assertAlmostEqual(o["ms"], 500.0, places=3)

    def test_steady(self):
        probes = [(10 + i * 0.005, True) for i in range(400)]
        self.assertTrue(steady_before(probes, 11.9, 1.0, 5.0)[0])
        probes[300] = (probes[300][0], False)
        ok, why = steady_before(probes, 11.9, 1.0, 5.0)
        self.assertFalse(ok)
        self.assertIn("1 of", why)
        ok, why = steady_before(probes[:10], 11.9, 1.0, 5.0)
        self.assertFalse(ok)
        self.assertIn("only 0 answers", why)

    def test_http_steady_ignores_probes_cut_by_injection(self):
        probes = [(10 + i * 0.005, True, 10.001 + i * 0.005) for i in range(400)]
        probes.append((11.899, False, 11.95))       # in flight at the injection
        self.assertTrue(http_steady(probes, 11.9, 1.0)[0])
        probes.append((11.5, False, 11.7))          # failed before it
        self.assertFalse(http_steady(sorted(probes), 11.9, 1.0)[0])


class Vrrp(unittest.TestCase):
    def test_parse_tcpdump_vrrp(self):
        adverts = parse_tcpdump_vrrp(TCPDUMP)
        self.assertEqual(len(adverts), 5)  # vrid 52 and ARP skipped
        self.assertEqual(adverts[0], (100.0, "192.0.2.11", 150))
        self.assertEqual(adverts[-1], (100.420001, "192.0.2.12", 100))

    def test_vrrp_timing(self):
        adverts = parse_tcpdump_vrrp(TCPDUMP)
        # Outage: last answer sent at 100.131, first one after at 100.467.
        outage = {"ms": 335.0, "from": 100.131, "to": 100.467, "recovered": True}
        v = vrrp_timing(adverts, 100.130, "lb1", "lb2", "crash", 100, outage)
        self.assertAlmostEqual(v["since_last_ms"], 30.0, places=3)
        self.assertAlmostEqual(v["new_master_ms"], 290.0, places=3)
        self.assertAlmostEqual(v["prio0_ms"], 70.0, places=3)
        # Takeover due at 100.1 + 0.3609375; from 100.131, minus one probe period.
        self.assertAlmostEqual(v["predicted_ms"], 328.9375, places=3)
        self.assertAlmostEqual(v["excess_ms"], 335.0 - 328.9375, places=3)
        v = vrrp_timing(adverts, 100.130, "lb1", "lb2", "graceful", 100,
                        {"ms": 0.0, "from": 100.1, "to": 100.101, "recovered": True})
        self.assertIsNone(v["predicted_ms"])
        self.assertIsNone(v["excess_ms"])
        # The link went down a few ms after t_inject: one more advert slipped out, and
        # the prediction counts from it and from the real start of the outage.
        outage = {"ms": 359.0, "from": 100.101, "to": 100.4609, "recovered": True}
        v = vrrp_timing(adverts, 100.095, "lb1", "lb2", "link", 100, outage)
        self.assertAlmostEqual(v["since_last_ms"], -5.0, places=3)
        self.assertAlmostEqual(v["predicted_ms"], 358.9375, places=3)
        self.assertAlmostEqual(v["excess_ms"], 0.0625, places=2)

    def test_vrrp_timing_unrecovered_has_no_excess(self):
        adverts = parse_tcpdump_vrrp(TCPDUMP)
        outage = {"ms": 900.0, "from": 100.131, "to": None, "recovered": False}
        v = vrrp_timing(adverts, 100.130, "lb1", "lb2", "crash", 100, outage)
        self.assertIsNotNone(v["predicted_ms"])
        self.assertIsNone(v["excess_ms"])


class FloatipLog(unittest.TestCase):
    def test_floatip_events(self):
        log = "\n".join([
            "2026-11-22T00:24:01.406048Z  INFO router{name=web iface=eth0 vrid=51 family=IPv4}: "
            "state change INIT -> BACKUP: started, waiting to hear a master",
            "2026-11-22T00:24:01.406056Z  INFO floatip 0.1.0 started config=x routers=1",
            "2026-11-22T00:24:03.473543Z  INFO router{name=web iface=eth0 vrid=51 family=IPv4}: "
            "state change BACKUP -> MASTER: no advertisement for master_down_interval 360.9375ms",
            "2026-11-22T00:24:04Z  INFO router{name=web iface=eth0 vrid=51 family=IPv4}: "
            "effective priority 50 (configured 150, checks -100)",
        ])
        ev = parse_floatip_events(log)
        self.assertEqual(len(ev), 3)
        self.assertAlmostEqual(ev[1][0] - ev[0][0], 2.067495, places=5)
        self.assertTrue(ev[1][1].startswith("state change BACKUP -> MASTER"))
        self.assertAlmostEqual(ev[2][0] - ev[1][0], 0.526457, places=5)  # no fraction: whole s
        self.assertTrue(ev[2][1].startswith("effective priority 50"))


if __name__ == "__main__":
    unittest.main()
