"""Server-rendered inline SVG charts (no JavaScript, no external assets).

Each chart is an ``<svg class="chart">`` with ``data-chart`` (kind) and ``data-points``
(how many data points it draws), and every point carries a ``<title>`` so hovering shows
the value. Colours come from CSS classes in ``static/style.css``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 34


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # colour class: s0 … s5


def _fmt_pct(v: float) -> str:
    return f"{v * 100:.1f} %"


def compact(v: float) -> str:
    """Short axis label: 1.2M, 340k, 95."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def _open(chart_id: str, kind: str, points: int, label: str) -> list[str]:
    return [
        f'<svg class="chart" id="{escape(chart_id)}" data-chart="{kind}" data-points="{points}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        'preserveAspectRatio="xMidYMid meet">'
    ]


def _x_labels(parts: list[str], labels: Sequence[str], xs: Sequence[float], every: int) -> None:
    for i, (lab, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(lab)}</text>'
            )


def _y_axis(
    parts: list[str], y_min: float, y_max: float, fmt: Callable[[float], str], ticks: int = 4
) -> Callable[[float], float]:
    plot_h = HEIGHT - TOP - BOTTOM
    span = (y_max - y_min) or 1.0

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - y_min) / span)

    for k in range(ticks + 1):
        v = y_min + span * k / ticks
        y = y_of(v)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(v))}</text>"
        )
    return y_of


def line_chart(
    chart_id: str,
    label: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    y_min: float = 0.0,
    y_max: float = 1.0,
    targets: Sequence[tuple[float, str, str]] = (),
    fmt: Callable[[float], str] = _fmt_pct,
) -> Markup:
    """Lines over shared x labels; ``targets`` are dashed lines (value, name, css)."""
    n = len(x_labels)
    points = sum(1 for s in series for v in s.values if v is not None)
    parts = _open(chart_id, "line", points, label)
    y_of = _y_axis(parts, y_min, y_max, fmt)
    plot_w = WIDTH - LEFT - RIGHT
    xs = [LEFT + (plot_w * (i + 0.5) / n) for i in range(n)] if n else []
    _x_labels(parts, x_labels, xs, max(1, n // 12))
    for value, name, css in targets:
        y = y_of(min(max(value, y_min), y_max))
        parts.append(
            f'<line class="target {css}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"><title>{escape(name)}: {escape(fmt(value))}</title></line>'
        )
    for s in series:
        coords = [
            (x, y_of(min(max(v, y_min), y_max)), v)
            for x, v in zip(xs, s.values, strict=True)
            if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
            parts.append(f'<polyline class="series {s.css}" points="{path}"/>')
        for (x, y, v), lab in zip(
            coords,
            [lab for lab, v in zip(x_labels, s.values, strict=True) if v is not None],
            strict=True,
        ):
            parts.append(
                f'<circle class="dot {s.css}" cx="{x:.1f}" cy="{y:.1f}" r="3" '
                f'data-value="{v:.6g}"><title>{escape(s.name)} {escape(lab)}: '
                f"{escape(fmt(v))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    chart_id: str,
    label: str,
    x_labels: Sequence[str],
    values: Sequence[float],
    css: str = "s0",
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    highlight: Sequence[bool] = (),
) -> Markup:
    """Vertical bars from zero; ``highlight`` marks bars drawn in the warning colour."""
    n = len(values)
    parts = _open(chart_id, "bar", n, label)
    y_max = max([*values, 1.0]) * 1.1
    y_of = _y_axis(parts, 0.0, y_max, compact)
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(n, 1)
    xs = [LEFT + step * (i + 0.5) for i in range(n)]
    _x_labels(parts, x_labels, xs, max(1, n // 16))
    for i, (x, v, lab) in enumerate(zip(xs, values, x_labels, strict=True)):
        top = y_of(v)
        cls = "bar warn" if i < len(highlight) and highlight[i] else f"bar {css}"
        parts.append(
            f'<rect class="{cls}" x="{x - step * 0.38:.1f}" y="{top:.1f}" '
            f'width="{step * 0.76:.1f}" '
            f'height="{y_of(0) - top:.1f}" data-value="{v:.6g}"><title>{escape(lab)}: '
            f"{escape(fmt(v))}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


QUALITY_MARKS = ("estimated", "missing", "edited", "invalid", "not_yet_available")


def load_curve(
    chart_id: str,
    label: str,
    x_labels: Sequence[str],
    import_wh: Sequence[int | None],
    export_wh: Sequence[int | None],
    qualities: Sequence[str],
    names: tuple[str, str] = ("import", "export"),
    quality_names: Callable[[str], str] = str,
) -> Markup:
    """Import bars up and export bars down from a zero line, per half hour; slots whose
    quality is not ``measured`` get a coloured mark above the plot (``q-<quality>``)."""
    n = len(x_labels)
    drawn = sum(v is not None for v in import_wh) + sum(bool(v) for v in export_wh)
    parts = _open(chart_id, "load-curve", drawn, label)
    top_v = max([*[v for v in import_wh if v is not None], 100]) * 1.1
    bottom_v = max([*[v for v in export_wh if v is not None], 0]) * 1.1
    y_of = _y_axis(parts, -bottom_v, top_v, lambda v: compact(v) + " Wh")
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(n, 1)
    xs = [LEFT + step * (i + 0.5) for i in range(n)]
    _x_labels(parts, x_labels, xs, 6)
    zero = y_of(0)
    parts.append(
        f'<line class="zero" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}"/>'
    )
    w = step * 0.7
    for x, q in zip(xs, qualities, strict=True):
        if q in ("missing", "invalid", "not_yet_available"):  # no value: shade the slot
            parts.append(
                f'<rect class="gap q-{escape(q)}" x="{x - step / 2:.1f}" y="{TOP}" '
                f'width="{step:.1f}" height="{HEIGHT - TOP - BOTTOM}"/>'
            )
    for x, imp, exp, q, lab in zip(xs, import_wh, export_wh, qualities, x_labels, strict=True):
        qcls = "" if q == "measured" else f" q-{q}"
        if imp is not None:
            y = y_of(imp)
            parts.append(
                f'<rect class="bar import{qcls}" x="{x - w / 2:.1f}" y="{y:.1f}" width="{w:.1f}" '
                f'height="{zero - y:.1f}" data-value="{imp}">'
                f"<title>{escape(lab)} {escape(names[0])}: "
                f"{imp:,} Wh ({escape(quality_names(q))})</title></rect>"
            )
        if exp:
            y = y_of(-exp)
            parts.append(
                f'<rect class="bar export{qcls}" x="{x - w / 2:.1f}" y="{zero:.1f}" '
                f'width="{w:.1f}" '
                f'height="{y - zero:.1f}" data-value="{exp}">'
                f"<title>{escape(lab)} {escape(names[1])}: "
                f"{exp:,} Wh ({escape(quality_names(q))})</title></rect>"
            )
        if q != "measured":
            parts.append(
                f'<rect class="qmark q-{escape(q)}" data-quality="{escape(q)}" x="{x - w / 2:.1f}" '
                f'y="{TOP - 10}" width="{w:.1f}" height="6"><title>{escape(lab)}: '
                f"{escape(quality_names(q))}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
