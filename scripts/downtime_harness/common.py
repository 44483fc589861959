"""What every part of the harness shares: the lab's addresses and priorities, the
scenarios, the run id, durations, errors, and logging to stderr.

Owns constants and tiny helpers only; must not start processes or touch the network."""

import os
import re
import sys

VIP = "192.0.2.100"
VRID = 51
LB_ADDR = {"lb1": "192.0.2.11", "lb2": "192.0.2.12", "lb3": "192.0.2.13"}
LB_PRIO = {"lb1": 150, "lb2": 100, "lb3": 50}
BACKEND_ADDR = "192.0.2.20"
CLIENT_ADDR = "192.0.2.50"
PREFIX_LEN = 24
HTTP_PORT = 80

SCENARIOS = ["crash", "link", "graceful", "haproxy", "drain", "failback"]
DAEMONS = ["floatip", "keepalived"]
FPING_PERIOD_MS = 1.0
HTTP_PERIOD_MS = 5.0

SCENARIO_TEXT = {
    "crash": "SIGKILL {daemon} on lb1 and take its link down",
    "link": "take lb1's link down ({daemon} keeps running)",
    "graceful": "SIGTERM {daemon} on lb1 (graceful stop)",
    "haproxy": "SIGKILL HAProxy on lb1 ({daemon} keeps running)",
    "drain": "write 1 to lb1's drain file (weight -100)",
    "failback": "start {daemon} on lb1 again while lb2 holds the VIP (preempt)",
}


class Abort(BaseException):
    """Raised from signal handlers (SIGINT, SIGTERM, SIGHUP, SIGALRM for --max-time).

    A BaseException so that no `except Exception` on the way swallows it; the finally
    blocks clean up on the way out."""


class TrialError(Exception):
    """A trial that could not be set up or did not converge; logged, then discarded."""


def parse_duration_ms(text):
    """'1s' -> 1000.0, '100ms' -> 100.0, '1.5s' -> 1500.0, '30m' -> 1800000.0."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*", text)
    if not m:
        raise ValueError(f"not a duration with a unit (10ms, 1s, 30m): {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[unit]


def format_interval(ms):
    return f"{ms / 1000:g}s" if ms >= 1000 and ms % 1000 == 0 else f"{ms:g}ms"


RUN_ID = str(os.getpid())

# The executable entry point, which the HTTP probe is started through (--http-probe).
ENTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "downtime")


def haproxy_name(lb):
    """Each LB's HAProxy runs from a copy of the binary with its own name, so that a
    process check by name on lb1 does not count lb2's HAProxy (one PID namespace)."""
    return f"hap{RUN_ID}{lb}"[:15]


def drain_path(work, lb):
    return os.path.join(work, lb, "drain")


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def log(msg):
    print(msg, file=sys.stderr, flush=True)
