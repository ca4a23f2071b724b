"""Chinese that renders: pages declare their language and CJK fonts, charts measure Chinese
with a CJK font, and headless Chromium draws every Chinese glyph with one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from datawheel.report import fonts, plots
from datawheel.report.html import Section, render_page, table

from ._chromium import chromium_page, require_chromium_and_cjk_fonts

HAN = re.compile(r"[\u4e00-\u9fff]")
ROWS = [
    {"特征": "年龄", "平均 SHAP 值": 0.075},
    {"特征": "学历", "平均 SHAP 值": 0.063},
    {"特征": "性别", "平均 SHAP 值": 0.022},
]


def _page() -> str:
    chart = plots.bar_chart(
        [r["特征"] for r in ROWS], [r["平均 SHAP 值"] for r in ROWS], title="特征重要性"
    )
    return render_page(
        "模型卡：客户流失",
        [Section("特征重要性", table(ROWS) + chart, note="在 200 行上计算")],
        subtitle="模型版本 v1",
    )


@pytest.mark.parametrize(
    ("title", "cell", "lang"),
    [
        ("模型卡", "性别", "zh-CN"),  # a Chinese page
        ("Model card", "性别", "en"),  # an English page with Chinese data: the cell says so
        ("Model card", "sex", "en"),
    ],
)
def test_render_page_when_chinese_text_then_lang_declared(title, cell, lang) -> None:
    page = render_page(title, [Section("s", table([{"c": cell}]))])
    assert f'<html lang="{lang}">' in page
    assert (f'<td lang="zh-CN">{cell}</td>' in page) is bool(HAN.search(cell))
    for family in ("PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei"):
        assert f'"{family}"' in page  # a CJK font for every platform in the stack


def test_bar_chart_when_chinese_labels_then_cjk_font_and_no_glyph_warnings(recwarn) -> None:
    if fonts.chart_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    svg = plots.bar_chart(["年龄", "性别"], [1.0, 2.0], title="特征重要性")
    assert f"'{fonts.chart_font()}'" in svg  # the SVG's text names the CJK font
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
    assert "CJK" not in plots.bar_chart(["age"], [1.0], title="t")  # Latin charts unchanged


def test_chart_font_when_none_installed_then_one_clear_warning(monkeypatch, caplog) -> None:
    monkeypatch.setattr(fonts, "CJK_FONTS", ("No Such CJK Font",))
    fonts._warn_no_font.cache_clear()
    with caplog.at_level(logging.WARNING, logger="datawheel.report.fonts"):
        plots.bar_chart(["年龄", "性别"], [1.0, 2.0], title="特征重要性")
        plots.bar_chart(["学历"], [1.0], title="第二张图")
    warned = [r.getMessage() for r in caplog.records if r.name == "datawheel.report.fonts"]
    assert len(warned) == 1 and "fonts-noto-cjk" in warned[0] and "boxes" in warned[0]
    fonts._warn_no_font.cache_clear()


def test_report_when_opened_in_chromium_then_every_chinese_glyph_drawn(tmp_path: Path) -> None:
    chromium = require_chromium_and_cjk_fonts()
    page = tmp_path / "报告.html"
    page.write_text(_page(), encoding="utf-8")
    control = tmp_path / "boxes.html"  # private-use characters: no font has them, boxes
    control.write_text('<html lang="zh-CN"><body><p>\ue000\ue001\ue002</p></body></html>')
    with chromium_page(chromium, tmp_path / "profile") as tab:
        tab.open(page.as_uri())
        elements = [
            element
            for selector in ("h1", "h2", "p.note", "nav a", "th", "td", "svg text")
            for element in tab.drawn(selector)
            if HAN.search(element.text)
        ]
        tab.open(control.as_uri())
        boxes = tab.drawn("p")[0]
    assert {e.selector for e in elements} >= {"h1", "h2", "th", "td", "svg text"}
    assert [e for e in elements if not e.draws(HAN.findall(e.text))] == []
    assert not boxes.draws(list(boxes.text))  # the check sees boxes when there are boxes
