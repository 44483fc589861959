"""What the client saw: parsing fping, HTTP probe, tcpdump (VRRP adverts) and floatip
log output, and turning it into outages, steadiness and advert timings.

Pure: text in, numbers out. Must not run commands or read files; capturing is the
lab's and the trial's job."""

import datetime
import re

from .common import FPING_PERIOD_MS, HTTP_PERIOD_MS, LB_ADDR, LB_PRIO, VRID
from .protocol import master_down_ms


FPING_LINE = re.compile(
    r"^\[(?P<ts>\d+\.\d+)\]\s+(?P<host>\S+)\s+:\s+\[(?P<seq>\d+)\],\s+(?P<rest>.*)$")


def parse_fping(text):
    """fping -D -l output -> (replies, timeouts): lists of (time s, seq).

    Reply lines:   [1795305931.51863] 192.0.2.100 : [0], 64 bytes, 0.149 ms (...)
    Timeout lines: [1795305931.96393] 192.0.2.100 : [122], timed out (...)
    A reply's time is when it was sent: the printed time minus the round-trip time; a
    timeout's is when fping gave up. Anything else (the summary, ICMP errors) is ignored."""
    replies, timeouts = [], []
    for line in text.splitlines():
        m = FPING_LINE.match(line.strip())
        if not m:
            continue
        ts, seq, rest = float(m.group("ts")), int(m.group("seq")), m.group("rest")
        if " bytes" in rest:
            rtt = re.search(r"bytes,\s+([\d.]+) ms", rest)
            replies.append((ts - (float(rtt.group(1)) / 1000.0 if rtt else 0.0), seq))
        elif "timed out" in rest:
            timeouts.append((ts, seq))
    replies.sort()
    timeouts.sort()
    return replies, timeouts


def parse_http_probe(text):
    """Lines 'START END ok|fail REASON' -> list of (start s, ok bool, end s)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] in ("ok", "fail"):
            try:
                out.append((float(parts[0]), parts[2] == "ok", float(parts[1])))
            except ValueError:
                continue
    out.sort()
    return out


def longest_outage(successes, t_inject, period_ms):
    """The longest run of lost probes that ends after t_inject, in ms of sending time.

    successes: sorted (send time s, lost_before) of the answered probes; lost_before says
    whether any probe sent since the previous answered one was lost. A run of lost probes
    between answered probes sent at a and b measures (b - a) - period, which is n*p for n
    probes lost at period p. Answered probes with nothing lost between them measure 0,
    however late their answers came: a delayed answer is not downtime.

    Returns (downtime_ms, start, end). (None, None, None) without an answer before the
    injection; (None, start, None) without one after it (the caller reports the outage
    as open)."""
    before = [t for t, _ in successes if t <= t_inject]
    after = [(t, lost) for t, lost in successes if t > t_inject]
    if not before:
        return None, None, None
    if not after:
        return None, before[-1], None
    best = (0.0, before[-1], after[0][0])
    prev = before[-1]
    for t, lost in after:
        if lost:
            gap_ms = (t - prev) * 1000.0 - period_ms
            if gap_ms > best[0]:
                best = (gap_ms, prev, t)
        prev = t
    return round(max(0.0, best[0]), 3), best[1], best[2]


def steady_before(times_ok, t_inject, window_s, period_ms, min_fraction=0.5):
    """(ok, why): every probe in [t_inject - window, t_inject] answered, and enough of them.

    times_ok: list of (time, ok). A failed probe, or fewer answers than min_fraction of
    the expected count, makes the trial unsteady."""
    lo = t_inject - window_s
    window = [(t, ok) for t, ok in times_ok if lo <= t <= t_inject]
    failed = sum(1 for _, ok in window if not ok)
    expected = window_s * 1000.0 / period_ms
    answered = len(window) - failed
    if failed:
        return False, f"{failed} of {len(window)} probes lost in the {window_s:g}s before injection"
    if answered < expected * min_fraction:
        return False, f"only {answered} answers in the {window_s:g}s before injection (expected ~{expected:.0f})"
    return True, ""


def http_steady(probes, t_inject, window_s):
    """steady_before for HTTP probes, counting only those finished before the injection:
    one in flight may be cut by it and says nothing about the time before."""
    return steady_before([(t, ok) for t, ok, end in probes if end <= t_inject],
                         t_inject, window_s, HTTP_PERIOD_MS)


def fping_outage(replies, t_inject, t_end, period_ms=FPING_PERIOD_MS):
    """ICMP downtime from parsed fping output: dict with ms, lost, recovered.

    replies: (send time, seq) -- parse_fping gives the send time (printed time minus the
    round-trip time). A gap in the sequence numbers is a run of lost replies."""
    successes, prev_seq = [], None
    for t, seq in replies:
        successes.append((t, prev_seq is not None and seq > prev_seq + 1))
        prev_seq = seq
    ms, start, end = longest_outage(successes, t_inject, period_ms)
    if start is None:
        return {"ms": None, "lost": None, "recovered": False}
    if end is None:  # never answered again before the end of the trial
        return {"ms": round((t_end - start) * 1000.0, 3), "lost": None, "recovered": False,
                "from": start, "to": None}
    seq_start = max(s for t, s in replies if t <= start)
    seq_end = min(s for t, s in replies if t >= end)
    return {"ms": ms, "lost": max(0, seq_end - seq_start - 1), "recovered": True,
            "from": start, "to": end}


def http_outage(probes, t_inject, t_end, period_ms=HTTP_PERIOD_MS):
    """Service downtime from parsed HTTP probes, by their start (send) times."""
    successes, failed_since = [], False
    for t, ok, _ in probes:
        if ok:
            successes.append((t, failed_since))
            failed_since = False
        else:
            failed_since = True
    ms, start, end = longest_outage(successes, t_inject, period_ms)
    if start is None:
        return {"ms": None, "lost": None, "recovered": False}
    if end is None:
        return {"ms": round((t_end - start) * 1000.0, 3), "lost": None, "recovered": False}
    lost = sum(1 for t, ok, _ in probes if start < t < end and not ok)
    return {"ms": ms, "lost": lost, "recovered": True}


VRRP_LINE = re.compile(
    r"^(?P<ts>\d+\.\d+) .*?(?P<src>\d+\.\d+\.\d+\.\d+) > (?P<dst>[\d.]+): VRRPv(?P<ver>\d), Advertisement, "
    r"vrid (?P<vrid>\d+), prio (?P<prio>\d+)")


def parse_tcpdump_vrrp(text):
    """`tcpdump -n -tt -l [-e]` lines -> list of (timestamp s, source, priority) of the
    adverts of our VRID (other lines, e.g. ARP, are skipped)."""
    out = []
    for line in text.splitlines():
        m = VRRP_LINE.match(line.strip())
        if m and int(m.group("vrid")) == VRID:
            out.append((float(m.group("ts")), m.group("src"), int(m.group("prio"))))
    out.sort()
    return out


def vrrp_timing(adverts, t_inject, old_master, new_master, scenario, interval_ms, outage,
                backup_priority=LB_PRIO["lb2"], period_ms=FPING_PERIOD_MS):
    """What the adverts seen by the client say about a trial.

    since_last_ms: from the old master's last advert to the injection (the phase of the
      failure in the advertisement cycle). For crash and link that is its last advert
      before the new master's first, wherever it falls: the injection takes a few ms to
      act (an `ip link set down` to spawn) and one more advert can slip out, negative
      here; the backups restart master-down on it all the same;
    new_master_ms: from the injection to the new master's first advert;
    prio0_ms: from the injection to the old master's first priority-0 advert, if any;
    predicted_ms (crash, link): what RFC 9568 lets clients lose for this very phase: from
      the start of the outage (the last answered probe, not t_inject: the injection takes
      a few ms to act) to the old master's last advert + master_down;
    excess_ms: the measured ICMP outage minus that, i.e. how long after the instant the
      protocol hands the address over clients still had no answer.
    outage: fping_outage's dict (ms, from, to)."""
    old_ip, new_ip = LB_ADDR[old_master], LB_ADDR[new_master]
    after_new = [t for t, src, prio in adverts if src == new_ip and prio > 0 and t > t_inject]
    horizon = t_inject
    if scenario in ("crash", "link"):
        horizon = after_new[0] if after_new else float("inf")
    before = [t for t, src, prio in adverts if src == old_ip and prio > 0 and t <= horizon]
    prio0 = [t for t, src, prio in adverts if src == old_ip and prio == 0 and t > t_inject]
    out = {
        "since_last_ms": round((t_inject - before[-1]) * 1000.0, 3) if before else None,
        "new_master_ms": round((after_new[0] - t_inject) * 1000.0, 3) if after_new else None,
        "prio0_ms": round((prio0[0] - t_inject) * 1000.0, 3) if prio0 else None,
        "predicted_ms": None,
        "excess_ms": None,
    }
    if scenario in ("crash", "link") and before and outage.get("from") is not None:
        takeover = before[-1] + master_down_ms(backup_priority, interval_ms) / 1000.0
        out["predicted_ms"] = round((takeover - outage["from"]) * 1000.0 - period_ms, 3)
        if outage.get("ms") is not None and outage.get("recovered"):
            out["excess_ms"] = round(outage["ms"] - out["predicted_ms"], 3)
    return out


FLOATIP_EVENT = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z\s+\w+\s.*?: "
    r"(?P<msg>state change .*|effective priority .*)$")


def parse_floatip_events(text):
    """State changes and priority changes from a floatip log -> [(epoch s, message)]."""
    out = []
    for line in text.splitlines():
        m = FLOATIP_EVENT.match(line.strip())
        if not m:
            continue
        ts = m.group("ts")
        fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in ts else "%Y-%m-%dT%H:%M:%S"
        t = datetime.datetime.strptime(ts[:26], fmt).replace(tzinfo=datetime.timezone.utc)
        out.append((t.timestamp(), m.group("msg")))
    return out
