"""The SVG strip plot of one scenario: a column per daemon and metric, a dot per trial,
the median, min to max, the protocol bound and the range RFC 9568 predicts.

Pure: values in, SVG text out; must not read trials or write files."""

import math
import random
import xml.sax.saxutils

from .stats import percentile


def svg_plot(title, groups, bound_ms=None, band_ms=None):
    """A strip plot: one column per (label, values), each trial a dot, the median a bar,
    min..max a thin line; the protocol bound as a dashed line and the range RFC 9568
    predicts (band_ms = (low, high)) shaded. Returns SVG text."""
    width, height = 140 + 120 * max(1, len(groups)), 360
    left, right, top, bottom = 70, 20, 40, 60
    all_vals = [v for _, vals in groups for v in vals if v is not None]
    ymax = max(all_vals + ([bound_ms] if bound_ms else []) + [1.0])
    ymax = _nice_ceiling(ymax * 1.08)
    plot_h = height - top - bottom

    def y(v):
        return top + plot_h - plot_h * v / ymax

    esc = xml.sax.saxutils.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for i in range(6):
        v = ymax * i / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    out.append(f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
               f'text-anchor="middle">downtime (ms)</text>')
    if band_ms and band_ms[1] > band_ms[0]:
        out.append(f'<rect x="{left}" width="{width - left - right}" y="{y(band_ms[1]):.1f}" '
                   f'height="{y(band_ms[0]) - y(band_ms[1]):.1f}" fill="#c00" fill-opacity="0.07"/>')
    if bound_ms:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(bound_ms):.1f}" '
                   f'y2="{y(bound_ms):.1f}" stroke="#c00" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{width - right}" y="{y(bound_ms) - 4:.1f}" text-anchor="end" '
                   f'fill="#c00">protocol bound {bound_ms:.0f} ms</text>')
    col_w = (width - left - right) / max(1, len(groups))
    rng = random.Random(1)
    for i, (label, vals) in enumerate(groups):
        cx = left + col_w * (i + 0.5)
        color = "#1f77b4" if label.startswith("floatip") else "#ff7f0e"
        vals = sorted(v for v in vals if v is not None)
        if vals:
            out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(vals[0]):.1f}" '
                       f'y2="{y(vals[-1]):.1f}" stroke="{color}" stroke-width="1"/>')
            med = percentile(vals, 50)
            out.append(f'<line x1="{cx - 30:.1f}" x2="{cx + 30:.1f}" y1="{y(med):.1f}" '
                       f'y2="{y(med):.1f}" stroke="{color}" stroke-width="3"/>')
            out.append(f'<text x="{cx + 34:.1f}" y="{y(med) + 4:.1f}" font-size="10">{med:.0f}</text>')
            for v in vals:
                jx = cx + rng.uniform(-18, 18)
                out.append(f'<circle cx="{jx:.1f}" cy="{y(v):.1f}" r="3" fill="{color}" '
                           f'fill-opacity="0.6"/>')
        out.append(f'<text x="{cx:.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                   f'{esc(label)}</text>')
        out.append(f'<text x="{cx:.1f}" y="{height - bottom + 34}" text-anchor="middle" '
                   f'font-size="10">n={len(vals)}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="black"/>')
    out.append(f'<text x="{left}" y="{height - 8}" font-size="10" fill="#555">dot: one trial; bar: '
               f'median; line: min to max; shaded: what RFC 9568 predicts for a failure at a random '
               f'point of the cycle</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _nice_ceiling(v):
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp
