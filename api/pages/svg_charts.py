"""Charts for the reports page, drawn on the server as inline SVG: no script, no chart library, and
the figures print and read the same everywhere. Every label is escaped; every chart says in its
title what it shows, for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 150
VALUE_WIDTH = 90
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
PALETTE = ("#2563eb", "#94a3b8", "#dc2626", "#16a34a")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as the reader should see it ("38.5%", "¥1,200.00", "12")
    flagged: bool = False  # drawn in the alarm colour (a spike, a breached goal)


def _scale(value: float, most: float, width: float) -> float:
    return 0.0 if most <= 0 else max(0.0, value) / most * width


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 560) -> Markup:
    """Horizontal bars, longest = the largest value; an empty chart says so instead of drawing."""
    if not bars:
        return Markup('<p class="muted">{}</p>').format(title)
    track = width - LABEL_WIDTH - VALUE_WIDTH
    most = max(bar.value for bar in bars)
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    rows = []
    for index, bar in enumerate(bars):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = _scale(bar.value, most, track)
        colour = PALETTE[2] if bar.flagged else PALETTE[0]
        rows.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{colour}">'
            f"<title>{escape(bar.label)}: {escape(bar.shown)}</title></rect>"
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 15}">{escape(bar.shown)}</text>'
        )
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" {FONT} xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(rows)}</svg>"
    )


@dataclass(frozen=True)
class Pair:
    """One category's value this month beside last month's."""

    label: str
    current: float
    previous: float
    flagged: bool = False


def paired_columns(title: str, pairs: Sequence[Pair], legend: tuple[str, str], *, width: int = 560) -> Markup:
    """Columns per category, this month (blue; red when flagged) beside last month (grey)."""
    if not pairs:
        return Markup('<p class="muted">{}</p>').format(title)
    plot_height, base = 160, 190
    most = max(max(pair.current, pair.previous) for pair in pairs)
    slot = (width - 20) / len(pairs)
    column = min(28.0, slot / 3)
    parts = [
        f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#cbd5e1"/>',
        f'<rect x="10" y="4" width="10" height="10" fill="{PALETTE[0]}"/>'
        f'<text x="24" y="13">{escape(legend[0])}</text>'
        f'<rect x="130" y="4" width="10" height="10" fill="{PALETTE[1]}"/>'
        f'<text x="144" y="13">{escape(legend[1])}</text>',
    ]
    for index, pair in enumerate(pairs):
        centre = 10 + slot * index + slot / 2
        for offset, value, colour in (
            (-column - 1, pair.current, PALETTE[2] if pair.flagged else PALETTE[0]),
            (1, pair.previous, PALETTE[1]),
        ):
            tall = _scale(value, most, plot_height)
            parts.append(
                f'<rect x="{centre + offset:.1f}" y="{base - tall:.1f}" width="{column:.1f}" '
                f'height="{tall:.1f}" fill="{colour}"><title>{escape(pair.label)}: {value:g}</title></rect>'
                f'<text x="{centre + offset + column / 2:.1f}" y="{base - tall - 3:.1f}" '
                f'text-anchor="middle">{value:g}</text>'
            )
        parts.append(
            f'<text x="{centre:.1f}" y="{base + 16}" text-anchor="middle">{escape(pair.label)}</text>'
        )
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {base + 26}" '
        f'width="100%" style="max-width:{width}px" {FONT} xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
