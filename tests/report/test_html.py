"""HTML pages: self-contained, escaped, written atomically."""

from __future__ import annotations

import re

import pytest

from datawheel.report import plots
from datawheel.report.html import Section, escape, kv_table, render_page, table, write_page


def _urls_outside_xmlns(page: str) -> list[str]:
    return re.findall(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", page))


def test_render_page_when_svg_inside_then_no_external_urls() -> None:
    svg = plots.bar_chart(["a"], [1], title="t")
    page = render_page("Report", [Section("Chart", svg, note="n"), Section("Chart", "<p>x</p>")])
    assert page.startswith("<!DOCTYPE html>")
    assert _urls_outside_xmlns(page) == []
    assert "<script" not in page
    assert 'id="chart"' in page and 'id="chart-2"' in page  # duplicate headings stay linkable


def test_render_page_when_title_and_note_have_markup_then_escaped() -> None:
    page = render_page("<T>", [Section("<h>", "<p>ok</p>", note="<n>")])
    assert "&lt;T&gt;" in page and "&lt;h&gt;" in page and "&lt;n&gt;" in page
    assert "<p>ok</p>" in page  # body_html is trusted


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),  # markup escaped
        ('a"b', "a&quot;b"),  # quotes escaped too
        (0.123456789, "0.1235"),  # floats: 4 significant digits
        (12345.678, "1.235e+04"),  # large floats keep 4 significant digits
        (42, "42"),  # ints unchanged
        (None, "—"),  # missing shown as a dash
        (True, "yes"),  # booleans in words
    ],
)
def test_table_when_cell_value_then_escaped_and_formatted(value, cell) -> None:
    html = table([{"v": value}])
    assert f">{cell}</td>" in html
    assert "<script>" not in html


def test_table_when_highlight_then_only_matching_rows_flagged() -> None:
    html = table([{"g": "a", "x": 1}, {"g": "b", "x": 5}], highlight=lambda r: r["x"] > 2)
    assert html.count('class="flag"') == 1
    assert '<tr class="flag"><td>b</td>' in html


def test_table_when_columns_given_then_order_and_subset_kept() -> None:
    html = table([{"a": 1, "b": 2, "c": 3}], columns=["c", "a"])
    assert html.index("<th>c</th>") < html.index("<th>a</th>") and "<th>b</th>" not in html


def test_kv_table_when_nested_then_compact_and_escaped() -> None:
    html = kv_table({"rows": 10, "<k>": {"x": 0.5}, "cols": ["a", "b"]})
    assert "&lt;k&gt;" in html and "x: 0.5" in html and "a, b" in html


def test_escape_when_non_string_then_str_escaped() -> None:
    assert escape(1) == "1" and escape("<&>") == "&lt;&amp;&gt;"


def test_write_page_when_written_then_complete_and_no_temp_left(tmp_path) -> None:
    target = tmp_path / "sub" / "report.html"
    write_page(target, "<html>one</html>")
    write_page(target, "<html>two</html>")
    assert target.read_text(encoding="utf-8") == "<html>two</html>"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]
