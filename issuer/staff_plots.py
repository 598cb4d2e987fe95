"""Server-rendered SVG plots of liveness signal traces with the challenge windows shaded.

Built with ElementTree so every label and value is XML-escaped; only presentation attributes
are used (no `style` attributes, no script), so the markup is safe under a strict CSP.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class ChallengeWindow:
    """A challenge's time window in seconds from session start, and whether it passed."""

    label: str
    start: float
    end: float
    passed: bool | None = None


@dataclass(frozen=True)
class TraceSeries:
    """One signal over time: `times` in seconds, `values` in the signal's own unit."""

    name: str
    times: tuple[float, ...]
    values: tuple[float, ...]
    threshold: float | None = None

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values):
            raise ValueError(
                f"series {self.name!r}: {len(self.times)} times but {len(self.values)} values"
            )


@dataclass(frozen=True)
class PlotBox:
    """Pixel geometry of one plot."""

    width: int = 640
    height: int = 160
    margin_left: int = 56
    margin_right: int = 12
    margin_top: int = 22
    margin_bottom: int = 24


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


# Beyond this magnitude a sample is a sensor fault, not a signal; it is left out of the plot.
_PLOTTABLE = 1e9


def _plottable(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= _PLOTTABLE


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if _plottable(v)]


def _range(values: Sequence[float], *, pad_fraction: float = 0.08) -> tuple[float, float]:
    finite = _finite(values)
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-6:
        return low - 0.5, high + 0.5
    pad = (high - low) * pad_fraction
    return low - pad, high + pad


def render_trace_svg(
    *,
    series: TraceSeries,
    windows: Sequence[ChallengeWindow] = (),
    box: PlotBox | None = None,
) -> str:
    """Render one signal trace as a standalone `<svg>` element (a string safe to inline)."""
    box = box or PlotBox()
    plot_w = box.width - box.margin_left - box.margin_right
    plot_h = box.height - box.margin_top - box.margin_bottom
    all_times = [*series.times, *(w.start for w in windows), *(w.end for w in windows)]
    t0, t1 = _range(all_times, pad_fraction=0.0)
    values = [*series.values, *([series.threshold] if series.threshold is not None else [])]
    v0, v1 = _range(values)

    def x(t: float) -> float:
        return box.margin_left + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return box.margin_top + (1.0 - (v - v0) / (v1 - v0)) * plot_h

    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": str(box.width),
            "height": str(box.height),
            "viewBox": f"0 0 {box.width} {box.height}",
            "role": "img",
            "class": "trace-plot",
        },
    )
    ET.SubElement(svg, "title").text = f"{series.name} over time"
    ET.SubElement(
        svg,
        "rect",
        {
            "x": str(box.margin_left),
            "y": str(box.margin_top),
            "width": str(plot_w),
            "height": str(plot_h),
            "fill": "#ffffff",
            "stroke": "#888888",
        },
    )
    for window in windows:
        if not (_plottable(window.start) and _plottable(window.end)):
            continue
        colour = {True: "#c8efc8", False: "#f6c8c8", None: "#dde6f5"}[window.passed]
        left, right = x(max(window.start, t0)), x(min(window.end, t1))
        group = ET.SubElement(svg, "g", {"class": "challenge-window"})
        ET.SubElement(group, "title").text = (
            f"{window.label}: {_fmt(window.start)}s to {_fmt(window.end)}s"
        )
        ET.SubElement(
            group,
            "rect",
            {
                "x": f"{left:.1f}",
                "y": str(box.margin_top),
                "width": f"{max(right - left, 0.5):.1f}",
                "height": str(plot_h),
                "fill": colour,
                "fill-opacity": "0.8",
            },
        )
        label = ET.SubElement(
            group,
            "text",
            {"x": f"{left + 2:.1f}", "y": str(box.margin_top + 11), "font-size": "10"},
        )
        label.text = window.label
    if series.threshold is not None and _plottable(series.threshold):
        ty = y(series.threshold)
        ET.SubElement(
            svg,
            "line",
            {
                "x1": str(box.margin_left),
                "x2": str(box.margin_left + plot_w),
                "y1": f"{ty:.1f}",
                "y2": f"{ty:.1f}",
                "stroke": "#aa5500",
                "stroke-dasharray": "4 3",
                "class": "threshold",
            },
        )
    points = [
        f"{x(t):.1f},{y(v):.1f}"
        for t, v in zip(series.times, series.values, strict=True)
        if _plottable(t) and _plottable(v)
    ]
    if points:
        ET.SubElement(
            svg,
            "polyline",
            {
                "points": " ".join(points),
                "fill": "none",
                "stroke": "#1f4e9c",
                "stroke-width": "1.5",
                "class": "trace",
            },
        )
    ET.SubElement(svg, "text", {"x": str(box.margin_left), "y": "14", "font-size": "12"}).text = (
        series.name
    )
    for value, anchor_y in ((v1, box.margin_top + 4), (v0, box.margin_top + plot_h)):
        ET.SubElement(
            svg,
            "text",
            {"x": str(box.margin_left - 4), "y": str(anchor_y), "font-size": "10",
             "text-anchor": "end"},
        ).text = _fmt(value)
    for value, anchor in ((t0, "start"), (t1, "end")):
        ET.SubElement(
            svg,
            "text",
            {"x": f"{x(value):.1f}", "y": str(box.height - 8), "font-size": "10",
             "text-anchor": anchor},
        ).text = f"{_fmt(value)} s"
    return ET.tostring(svg, encoding="unicode")
