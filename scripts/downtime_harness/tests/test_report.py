"""Report formatting: the table, the per-trial lines and stories, the summary rows,
why a run fails, and the SVG plot."""

import types
import unittest
import xml.etree.ElementTree as ET

from downtime_harness.plot import svg_plot
from downtime_harness.protocol import expected_range_ms
from downtime_harness.report import (cell_records, describe_trial, failures, format_table,
                                     narrate_trial, outage_text, summarize, wall_per_trial)
from downtime_harness.stats import stats


def record(daemon="floatip", scenario="crash", icmp=350.0, http=355.0, valid=True, **extra):
    rec = {"scenario": scenario, "daemon": daemon, "interval_ms": 100.0, "lbs": 2,
           "bound_ms": 360.9375, "phase_ms": 42.0, "holder_after": "lb2", "takeover_ms": 400.0,
           "icmp": {"ms": icmp, "lost": 350, "recovered": icmp is not None},
           "http": {"ms": http, "lost": 70, "recovered": http is not None},
           "vrrp": {"since_last_ms": 12.0, "new_master_ms": 330.0, "prio0_ms": None,
                    "predicted_ms": 340.0, "excess_ms": 10.0},
           "events": [[331.0, "lb2", "state change BACKUP -> MASTER: no advertisement"]],
           "valid": valid, "discard_reason": "" if valid else "icmp: 1 of 900 probes lost",
           "trial": 1, "attempt": 1, "wall_s": 6.5}
    rec.update(extra)
    return rec


ARGS = types.SimpleNamespace(intervals=[100.0], scenarios=["crash", "graceful"],
                             daemons=["floatip", "keepalived"])


class Table(unittest.TestCase):
    def test_table(self):
        rows = [{"interval": 1000, "scenario": "crash", "daemon": "floatip", "metric": "icmp",
                 "stats": stats([3600, 3610]), "bound": 3609.4, "discarded": 1, "note": ""}]
        t = format_table(rows)
        lines = t.splitlines()
        self.assertTrue(lines[0].startswith("interval  scenario  daemon     metric"))
        self.assertEqual(set(lines[1]), {"-"})
        self.assertEqual(lines[2].split(), ["1s", "crash", "floatip", "icmp", "2", "1", "3600",
                                            "3605", "3610", "3610", "3609"])
        self.assertNotIn("RFC 9568", t)

    def test_bound_only_for_floatip_and_excess_table(self):
        rows = [{"interval": 100, "scenario": "crash", "daemon": "keepalived", "metric": "icmp",
                 "stats": stats([]), "bound": 360.9, "discarded": 0, "note": "unsupported"},
                {"interval": 100, "scenario": "crash", "daemon": "floatip", "metric": "excess",
                 "stats": stats([1.0, 3.0]), "bound": None, "discarded": 0, "note": ""}]
        t = format_table(rows)
        first = t.splitlines()[2].split()
        self.assertEqual(first[:6], ["100ms", "crash", "keepalived", "icmp", "0", "0"])
        self.assertEqual(first[6:], ["-", "-", "-", "-", "-", "unsupported"])
        self.assertIn("ICMP outage beyond what RFC 9568 allows", t)
        self.assertEqual(t.splitlines()[-1].split()[:3], ["100ms", "crash", "floatip"])


class Trials(unittest.TestCase):
    def test_outage_text(self):
        self.assertEqual(outage_text({"ms": 312.4, "recovered": True}), "312 ms")
        self.assertEqual(outage_text({"ms": None, "recovered": False}), "n/a")
        self.assertEqual(outage_text({"ms": 900.0, "recovered": False}), "900 ms (NOT RECOVERED)")
        self.assertEqual(outage_text({"ms": 900.0, "recovered": False}, " (gone)"), "900 ms (gone)")

    def test_describe_trial(self):
        line = describe_trial(record(), 1, 3)
        self.assertEqual(line, "[100ms crash floatip 1/3] phase 42 ms; lb2 held the VIP ~400 ms "
                               "after injection; clients lost ICMP 350 ms, HTTP 355 ms "
                               "(bound 361 ms)")
        line = describe_trial(record(valid=False), 2, 3)
        self.assertTrue(line.endswith("  DISCARDED: icmp: 1 of 900 probes lost"))

    def test_narrate_trial(self):
        text = narrate_trial(record(), "floatip")
        lines = text.splitlines()
        self.assertEqual(lines[0], "== crash: SIGKILL floatip on lb1 and take its link down")
        self.assertIn("lb1 was master and alone held 192.0.2.100", lines[1])
        self.assertIn("t=0  SIGKILL floatip on lb1 and take its link down, 12 ms after lb1's "
                      "last advertisement (interval 100ms)", lines[2])
        self.assertIn("t=+330 ms  lb2's first advertisement as master", lines[3])
        self.assertIn("t=+331 ms  lb2: state change BACKUP -> MASTER", lines[4])
        self.assertEqual(lines[5], "   clients lost the VIP for: ping 350 ms, HTTP 355 ms; "
                                   "RFC 9568 allows 340 ms for this phase")
        text = narrate_trial(record(icmp=None, valid=False), "floatip")
        self.assertIn("(not counted: icmp: 1 of 900 probes lost)", text)


class Summary(unittest.TestCase):
    def records(self):
        return [record(), record(icmp=370.0, valid=False, attempt=1, trial=2),
                record(icmp=360.0, trial=2, attempt=2),
                record(scenario="graceful", icmp=0.0, http=0.0, stopped_exit_code=0),
                record(daemon="keepalived", icmp=1200.0)]

    def test_cell_records(self):
        recs = self.records()
        self.assertEqual(len(cell_records(recs, 100.0, "crash", "floatip")), 3)
        self.assertEqual(len(cell_records(recs, 1000.0, "crash", "floatip")), 0)

    def test_summarize(self):
        rows = summarize(self.records(), ARGS, unsupported={})
        keys = [(r["scenario"], r["daemon"], r["metric"]) for r in rows]
        # keepalived graceful was never run (aborted): no row.
        self.assertEqual(keys, [("crash", "floatip", "icmp"), ("crash", "floatip", "http"),
                                ("crash", "floatip", "excess"), ("crash", "keepalived", "icmp"),
                                ("crash", "keepalived", "http"), ("crash", "keepalived", "excess"),
                                ("graceful", "floatip", "icmp"), ("graceful", "floatip", "http")])
        self.assertEqual((rows[0]["stats"]["n"], rows[0]["stats"]["max"], rows[0]["discarded"]),
                         (2, 360.0, 1))
        self.assertAlmostEqual(rows[0]["bound"], 360.9375)
        self.assertIsNone(rows[2]["bound"])
        self.assertEqual(failures(rows, self.records()), [])

    def test_unsupported_and_failures(self):
        recs = [record(), record(scenario="graceful", http=None, stopped_exit_code=1)]
        rows = summarize(recs, ARGS, unsupported={("keepalived", "crash"): ["refused"]})
        ka = [r for r in rows if r["daemon"] == "keepalived"]
        self.assertEqual(ka[0]["note"], "unsupported: configuration refused")
        self.assertEqual(ka[0]["stats"]["n"], 0)
        self.assertEqual(failures(rows, recs), [
            "no counted trial for 100ms crash keepalived",
            "100ms graceful floatip http: 1 never recovered",
            "100ms graceful trial 1/1: floatip exited with 1 when stopped",
        ])

    def test_wall_per_trial(self):
        recs = self.records() + [record(wall_s=7.5)]
        w = wall_per_trial(recs)
        self.assertEqual(w["100ms/crash/floatip"], round((6.5 * 3 + 7.5) / 4, 2))
        self.assertEqual(set(w), {"100ms/crash/floatip", "100ms/graceful/floatip",
                                  "100ms/crash/keepalived"})


class Svg(unittest.TestCase):
    def test_svg(self):
        svg = svg_plot("crash <1s>", [("floatip icmp", [3600, 3610, None]),
                                      ("keepalived icmp", [])], bound_ms=3609.375,
                       band_ms=expected_range_ms("crash", 1000))
        root = ET.fromstring(svg)
        circles = [e for e in root.iter() if e.tag.endswith("circle")]
        self.assertEqual(len(circles), 2)
        texts = [e.text for e in root.iter() if e.tag.endswith("text")]
        self.assertIn("crash <1s>", texts)
        self.assertIn("protocol bound 3609 ms", texts)
        self.assertIn("n=2", texts)
        self.assertIn("n=0", texts)


if __name__ == "__main__":
    unittest.main()
