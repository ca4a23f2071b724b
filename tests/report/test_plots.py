"""Charts render to deterministic, self-contained inline SVG."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from datawheel.report import plots

CHARTS: list[tuple[str, Callable[[], str]]] = [
    ("bar", lambda: plots.bar_chart(["a", "b"], [1.0, 2.0], title="t", highlight=["b"])),
    ("bar_h", lambda: plots.bar_chart(["f1", "f2"], [0.3, -0.1], title="t", horizontal=True)),
    (
        "grouped",
        lambda: plots.grouped_bar_chart(["g1", "g2"], {"s": [1, 2]}, title="t", ylabel="y"),
    ),
    (
        "line",
        lambda: plots.line_chart([1, 2, 3], {"l": [3, 2, 1]}, title="t", xlabel="x", ylabel="y"),
    ),
    ("hist", lambda: plots.histogram([1.0, 2.0, 2.5, float("nan")], title="t", bins=5)),
    ("confusion", lambda: plots.confusion_matrix_chart([[5, 1], [2, 7]], ["n", "p"], title="t")),
    ("calibration", lambda: plots.calibration_chart([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4])),
]


@pytest.mark.parametrize(("name", "make"), CHARTS)
def test_chart_when_rendered_then_inline_svg_without_header(name, make) -> None:
    svg = make()
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg


@pytest.mark.parametrize(("name", "make"), CHARTS)
def test_chart_when_rendered_twice_then_identical_and_no_external_urls(name, make) -> None:
    svg = make()
    assert svg == make()
    assert not re.findall(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", svg))


def test_bar_chart_when_label_has_markup_or_dollar_then_text_is_kept_escaped() -> None:
    svg = plots.bar_chart(["<b>&", "$50k"], [1, 2], title="income > $50k")
    assert "<b>&" not in svg and "&lt;b&gt;&amp;" in svg
    assert "$50k" in svg  # a dollar sign does not start mathtext


def test_plots_when_rendered_then_no_pyplot_figures_left_open() -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    plots.histogram([1, 2, 3], title="t")
    assert len(plt.get_fignums()) == before
