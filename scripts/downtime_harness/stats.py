"""The figures of a cell: min, median, p95, max and mean of its counted trials.

Pure arithmetic on lists of numbers; must not know about trials, files or processes."""

import math


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def stats(values):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"n": 0, "min": None, "median": None, "p95": None, "max": None, "mean": None}
    return {
        "n": len(vals),
        "min": vals[0],
        "median": percentile(vals, 50),
        "p95": percentile(vals, 95),
        "max": vals[-1],
        "mean": sum(vals) / len(vals),
    }
