"""Small matplotlib charts rendered to inline SVG strings for self-contained HTML reports.

matplotlib is imported inside each function so ``import datawheel`` stays fast. Figures are
built with ``matplotlib.figure.Figure`` rather than pyplot: no global figure registry to leak
into or close, no backend switch, safe to call from a server thread. Output is deterministic
(fixed ``svg.hashsalt``, no date metadata), so identical inputs give byte-identical reports.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from datawheel.i18n.catalog import _
from datawheel.report.fonts import chart_font, has_cjk

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "bar_chart",
    "calibration_chart",
    "confusion_matrix_chart",
    "grouped_bar_chart",
    "histogram",
    "line_chart",
    "load_chart_library",
    "residual_chart",
]

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: small, searchable, uses the page's fonts
    "svg.hashsalt": "datawheel",  # stable element ids across runs
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": (  # parsed by matplotlib, so cycler need not be imported here
        "cycler('color', ['#3b6ea8', '#e08a2c', '#4a9a5b', '#c44e52', '#8172b2', '#937860'])"
    ),
}
_BASE = "#3b6ea8"
_HIGHLIGHT = "#c44e52"
# An SVG writer without these keys adds an RDF block that links to external vocabularies.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def bar_chart(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str | None = None,
    ylabel: str | None = None,
    highlight: Collection[str] | None = None,
    horizontal: bool = False,
) -> str:
    """Bars with the labels in ``highlight`` drawn in a warning colour (e.g. failing groups).

    ``horizontal=True`` suits long labels such as feature names; bars then run top to bottom in
    the order given.
    """
    names = [_txt(x) for x in labels]
    marked = {_txt(x) for x in highlight or ()}
    colors = [_HIGHLIGHT if x in marked else _BASE for x in names]
    height = max(2.4, 0.28 * len(names) + 1.0) if horizontal else 3.6
    with _canvas(figsize=(6.4, height)) as (fig, ax):
        pos = np.arange(len(names))
        if horizontal:
            ax.barh(pos, values, color=colors)
            ax.set_yticks(pos, names)
            ax.invert_yaxis()
            ax.grid(axis="y", visible=False)
        else:
            ax.bar(pos, values, color=colors)
            _category_ticks(ax, pos, names)
            ax.grid(axis="x", visible=False)
        _labels(ax, title, xlabel, ylabel)
        return _svg(fig)


def grouped_bar_chart(
    categories: Sequence[Any],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str,
) -> str:
    """Side-by-side bars: one group per category, one bar per series (e.g. rates per group)."""
    cats = [_txt(c) for c in categories]
    width = 0.8 / max(1, len(series))
    with _canvas() as (fig, ax):
        pos = np.arange(len(cats))
        for i, (name, values) in enumerate(series.items()):
            ax.bar(pos + (i - (len(series) - 1) / 2) * width, values, width, label=_txt(_(name)))
        _category_ticks(ax, pos, cats)
        ax.grid(axis="x", visible=False)
        # below the axes: inside, the legend would hide the bars it names
        fig.legend(loc="outside lower center", ncols=min(len(series), 4), frameon=False)
        _labels(ax, title, None, ylabel)
        return _svg(fig)


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> str:
    """One line per series over a shared x (e.g. loss per epoch)."""
    with _canvas() as (fig, ax):
        for name, values in series.items():
            ax.plot(x, values, marker="o" if len(x) <= 30 else None, ms=3, label=_txt(_(name)))
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=8)
        if all(float(v).is_integer() for v in x):  # epochs: no 1.25, 1.5, … ticks
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _labels(ax, title, xlabel, ylabel)
        return _svg(fig)


def histogram(values: ArrayLike, *, title: str, bins: int = 30, xlabel: str | None = None) -> str:
    """Distribution of one numeric quantity (NaNs dropped)."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    with _canvas() as (fig, ax):
        ax.hist(data, bins=bins, color=_BASE)
        ax.grid(axis="x", visible=False)
        _labels(ax, title, xlabel, "count")
        return _svg(fig)


def confusion_matrix_chart(
    matrix: Sequence[Sequence[float]], classes: Sequence[Any], *, title: str = "Confusion matrix"
) -> str:
    """Heat map with counts in each cell; rows are true labels, columns predicted."""
    cm = np.asarray(matrix, dtype=float)
    names = [_txt(c) for c in classes]
    side = min(7.0, 2.6 + 0.45 * len(names))
    with _canvas(figsize=(side + 0.8, side)) as (fig, ax):
        ax.imshow(cm, cmap="Blues", vmin=0)
        ax.grid(False)
        pos = np.arange(len(names))
        ax.set_xticks(pos, names, rotation=30 if len(names) > 4 else 0)
        ax.set_yticks(pos, names)
        threshold = cm.max() / 2 if cm.size else 0
        for (i, j), v in np.ndenumerate(cm):
            text = f"{int(v)}" if float(v).is_integer() else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", color="white" if v > threshold else "k")
        _labels(ax, title, "predicted", "true")
        return _svg(fig)


def calibration_chart(
    y_true_binary: Sequence[Any],
    proba_positive: ArrayLike,
    *,
    bins: int = 10,
    title: str = "Calibration",
) -> str:
    """Reliability curve: observed positive rate per equal-width probability bin vs the diagonal.

    Empty bins are skipped; marker area grows with the bin's share of rows.
    """
    y = np.asarray(y_true_binary, dtype=float)
    p = np.asarray(proba_positive, dtype=float)
    idx = np.clip(np.ceil(p * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    keep = count > 0
    mean_p = np.bincount(idx, weights=p, minlength=bins)[keep] / count[keep]
    rate = np.bincount(idx, weights=y, minlength=bins)[keep] / count[keep]
    with _canvas(figsize=(4.8, 4.2)) as (fig, ax):
        ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1, label=_("perfectly calibrated"))
        ax.plot(mean_p, rate, color=_BASE, lw=1.5, label=_("model"))
        share = count[keep] / max(1, count.sum())
        ax.scatter(mean_p, rate, s=12 + 200 * share, color=_BASE, zorder=3, clip_on=False)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        _labels(ax, title, "mean predicted probability", "observed positive rate")
        return _svg(fig)


def residual_chart(
    predicted: Sequence[float] | np.ndarray,
    residuals: Sequence[float] | np.ndarray,
    *,
    title: str = "Residuals",
) -> str:
    """Residual (prediction - truth) against the prediction, with the zero line: a funnel
    means the error grows with the value, a curve a missed non-linearity."""
    x = np.asarray(predicted, dtype=float)
    r = np.asarray(residuals, dtype=float)
    with _canvas(figsize=(6.4, 3.6)) as (fig, ax):
        ax.axhline(0.0, ls="--", color="#999999", lw=1)
        ax.scatter(x, r, s=6, alpha=0.5, color=_BASE, linewidths=0)
        _labels(ax, title, "predicted value", "prediction - truth")
        return _svg(fig)


def load_chart_library() -> None:
    """Import matplotlib's figure and SVG backend now (about half a second of Python): a caller
    with matrix work running on another thread overlaps the two."""
    import matplotlib.backends.backend_svg
    import matplotlib.figure  # noqa: F401


@contextmanager
def _canvas(figsize: tuple[float, float] = (6.4, 3.6)) -> Iterator[tuple[Any, Any]]:
    """A fresh Figure and Axes under datawheel's style; render with ``_svg`` inside the block."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        try:
            yield fig, fig.add_subplot()
        finally:
            fig.clear()  # drop artists now; the Figure is not registered anywhere else


def _svg(fig: Any) -> str:
    """Render to SVG text without the XML declaration and DOCTYPE, ready to inline in HTML.

    Labels in Chinese are measured and named with a CJK font behind DejaVu Sans (matplotlib
    falls back glyph by glyph); without one, a single warning says what to install, instead
    of matplotlib's warning per missing glyph.
    """
    import matplotlib
    from matplotlib.text import Text

    rc: dict[RcKeyType, Any] = {}
    if any(has_cjk(t.get_text()) for t in fig.findobj(Text)):
        font = chart_font()
        if font is not None:
            rc["font.sans-serif"] = ["DejaVu Sans", font]
    buf = io.StringIO()
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    text = buf.getvalue()
    return text[text.index("<svg") :].strip()


def _category_ticks(ax: Any, pos: np.ndarray, names: list[str]) -> None:
    """Category names under bars; slanted, anchored at their bar, when they would collide."""
    crowded = len(names) > 6 or sum(len(n) for n in names) > 48
    if crowded:
        ax.set_xticks(pos, names, rotation=30, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(pos, names)


def _labels(ax: Any, title: str, xlabel: str | None, ylabel: str | None) -> None:
    """Title and axis labels, in the interface language (``i18n.catalog``)."""
    ax.set_title(_txt(_(title)), loc="left", fontsize=10)
    if xlabel:
        ax.set_xlabel(_txt(_(xlabel)))
    if ylabel:
        ax.set_ylabel(_txt(_(ylabel)))


def _txt(value: Any) -> str:
    """Plain text for matplotlib: a ``$`` in a group or feature name must not start mathtext."""
    return str(value).replace("$", r"\$")
