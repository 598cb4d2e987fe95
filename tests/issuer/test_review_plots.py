"""SVG liveness trace plots: well-formed, escaped, windows shaded, CSP-safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.review_case import summarise_liveness_details
from issuer.staff_plots import SVG_NS, ChallengeWindow, TraceSeries, render_trace_svg

pytestmark = pytest.mark.unit
NS = {"s": SVG_NS}
XSS = "<img src=x onerror=alert(1)>"


def test_plot_has_trace_threshold_and_one_shaded_window_per_challenge() -> None:
    svg = render_trace_svg(
        series=TraceSeries(
            name="eye aspect ratio",
            times=(0.0, 0.5, 1.0, 1.5, 2.0),
            values=(0.31, 0.30, 0.12, 0.29, 0.30),
            threshold=0.2,
        ),
        windows=(
            ChallengeWindow(label="blink", start=0.2, end=1.4, passed=True),
            ChallengeWindow(label="turn_left", start=1.5, end=2.0, passed=False),
        ),
    )
    root = ET.fromstring(svg)
    polyline = root.find("s:polyline", NS)
    assert polyline is not None
    assert len(polyline.attrib["points"].split()) == 5
    windows = root.findall("s:g[@class='challenge-window']", NS)
    assert [w.find("s:text", NS).text for w in windows] == ["blink", "turn_left"]  # type: ignore[union-attr]
    fills = [w.find("s:rect", NS).attrib["fill"] for w in windows]  # type: ignore[union-attr]
    assert fills[0] != fills[1]
    assert root.find("s:line[@class='threshold']", NS) is not None


def test_labels_are_escaped_and_no_style_or_script_is_emitted() -> None:
    svg = render_trace_svg(
        series=TraceSeries(name=XSS, times=(0.0, 1.0), values=(1.0, 2.0)),
        windows=(ChallengeWindow(label=XSS, start=0.0, end=1.0),),
    )
    assert "<img" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    assert "style=" not in svg
    assert "<script" not in svg
    ET.fromstring(svg)


def test_mismatched_series_is_rejected() -> None:
    with pytest.raises(ValueError, match="2 times but 1 values"):
        TraceSeries(name="yaw", times=(0.0, 1.0), values=(3.0,))


@settings(deadline=None)  # rendering time varies on a loaded CI machine
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
        ),
        max_size=30,
    ),
    st.text(max_size=20),
)
def test_any_samples_give_well_formed_svg(samples: list[tuple[float, float]], name: str) -> None:
    name = "".join(ch for ch in name if ch.isprintable())
    series = TraceSeries(
        name=name, times=tuple(t for t, _ in samples), values=tuple(v for _, v in samples)
    )
    root = ET.fromstring(render_trace_svg(series=series))
    assert root.tag == f"{{{SVG_NS}}}svg"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)
detail_keys = st.sampled_from(["challenges", "failure_reasons", "traces", "keyframe_labels",
                               "thresholds", "started_at", "t", "ear_left", "yaw", "name"])


@settings(deadline=None)  # rendering time varies on a loaded CI machine
@given(st.dictionaries(detail_keys | st.text(max_size=6), json_values, max_size=6),
       st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6,
                          max_value=1e6), max_size=8))
def test_any_stored_details_summarise_without_error(details: dict[str, object],
                                                    column: list[float]) -> None:
    # Sometimes give a well-formed trace so the plotting path runs on odd neighbours.
    if column:
        details = {**details, "traces": {"t": column, "yaw": list(reversed(column))}}
    summary = summarise_liveness_details(details)
    for svg in summary.plots:
        ET.fromstring(svg)
