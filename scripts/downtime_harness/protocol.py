"""RFC 9568 timer arithmetic and the bounds a trial is held to: skew, master_down, the
worst case and the range predicted for a failure at a random point of the cycle, and
which LB is master before and after each scenario.

Pure; must not measure anything."""

from .common import LB_PRIO


def skew_ms(priority, interval_ms):
    return (256 - priority) * interval_ms / 256.0


def master_down_ms(priority, interval_ms):
    return 3 * interval_ms + skew_ms(priority, interval_ms)


def roles(scenario):
    """(master before the injection, master after it): lb1 then lb2, except failback."""
    return ("lb2", "lb1") if scenario == "failback" else ("lb1", "lb2")


def protocol_bound_ms(scenario, interval_ms, backup_priority=LB_PRIO["lb2"]):
    """What RFC 9568 allows clients to lose, taking over by the best backup (lb2)."""
    if scenario in ("crash", "link"):
        return master_down_ms(backup_priority, interval_ms)
    if scenario == "haproxy":
        return skew_ms(backup_priority, interval_ms)
    return 0.0


def expected_range_ms(scenario, interval_ms, backup_priority=LB_PRIO["lb2"]):
    """(low, high) of the outage RFC 9568 predicts, for a failure at a uniformly random
    point of the advertisement cycle. After a silent failure the backup's master-down
    timer was last restarted by the advert sent 0..interval before the failure, so the
    outage is uniform in (master_down - interval, master_down]: its median is
    master_down - interval/2, and only the maximum reaches the bound."""
    hi = protocol_bound_ms(scenario, interval_ms, backup_priority)
    if scenario in ("crash", "link"):
        return hi - interval_ms, hi
    return hi, hi
