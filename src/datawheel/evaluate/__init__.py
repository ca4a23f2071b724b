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
    METRICS,
    Metric,
    classification_metrics,
    expected_calibration_error,
    register_metric,
    resolve_metric,
)
from datawheel.evaluate.statistics import (
    Interval,
    PairedTest,
    metric_interval,
    paired_bootstrap,
    wilson_interval,
)
from datawheel.report.html import Section, escape, fmt, kv_table, render_page, table, write_page

__all__ = [
    "METRICS",
    "MISSING_GROUP",
    "Attributions",
    "Interval",
    "Metric",
    "PairedTest",
    "Section",
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
    "metric_interval",
    "model_card_html",
    "paired_bootstrap",
    "register_metric",
    "render_page",
    "resolve_metric",
    "table",
    "wilson_interval",
    "write_page",
]
