from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from api.pages.svg_charts import Bar, Pair, bar_chart, paired_columns

SVG = "{http://www.w3.org/2000/svg}"


def _rects(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}rect"))


def test_bars_are_as_long_as_their_values_and_labels_are_escaped() -> None:
    svg = str(
        bar_chart(
            "退款原因",
            [Bar("课程质量", 30, "30"), Bar("<script>x</script>", 15, "15"), Bar("其他", 0, "0")],
            width=540,
        )
    )
    widths = [float(rect.get("width", "0")) for rect in _rects(svg)]
    assert widths == [300.0, 150.0, 0.0]  # track = 540 - 150 - 90
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert ET.fromstring(svg).find(f"{SVG}title").text == "退款原因"  # type: ignore[union-attr]


def test_a_flagged_bar_is_drawn_in_the_alarm_colour() -> None:
    svg = str(bar_chart("t", [Bar("a", 1, "1"), Bar("b", 2, "2", flagged=True)]))
    assert [rect.get("fill") for rect in _rects(svg)] == ["#2563eb", "#dc2626"]


def test_this_month_stands_beside_last_month() -> None:
    svg = str(
        paired_columns("投诉", [Pair("技术", 40, 20, flagged=True), Pair("教学", 10, 0)], ("本月", "上月"))
    )
    heights = [float(rect.get("height", "0")) for rect in _rects(svg)[2:]]  # after the legend swatches
    assert heights == [160.0, 80.0, 40.0, 0.0]
    assert _rects(svg)[2].get("fill") == "#dc2626"
    assert re.search(r">技术</text>", svg)


def test_nothing_to_draw_says_so() -> None:
    assert "<svg" not in str(bar_chart("没有数据", []))
    assert "<svg" not in str(paired_columns("没有数据", [], ("a", "b")))
