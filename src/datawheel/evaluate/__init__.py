"""Layer 3: metrics, fairness, explanations (SHAP, LIME), plots, HTML pages and model cards.

Imports stay light: scikit-learn and matplotlib load only when a function needs them.
"""

from datawheel.evaluate.card import model_card_html
from datawheel.evaluate.explain import (
    Attributions,
    explain_arrays,
    explain_rows,
    global_importance,
)
from datawheel.evaluate.fairness import MISSING_GROUP, fairness_report, group_gaps, max_gap
from datawheel.evaluate.metrics import (
    BOOTSTRAP_METRICS,
    bootstrap_ci,
    classification_metrics,
    expected_calibration_error,
)
from datawheel.report.html import Section, escape, fmt, kv_table, render_page, table, write_page

__all__ = [
    "BOOTSTRAP_METRICS",
    "MISSING_GROUP",
    "Attributions",
    "Section",
    "bootstrap_ci",
    "classification_metrics",
    "escape",
    "expected_calibration_error",
    "explain_arrays",
    "explain_rows",
    "fairness_report",
    "fmt",
    "global_importance",
    "group_gaps",
    "kv_table",
    "max_gap",
    "model_card_html",
    "render_page",
    "table",
    "write_page",
]
