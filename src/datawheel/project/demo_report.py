"""The demo's HTML report: what happened at each turn of the flywheel, with plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from datawheel.i18n.catalog import _
from datawheel.report.html import Section, escape, kv_table, render_page, table, write_page
from datawheel.report.plots import bar_chart, grouped_bar_chart

if TYPE_CHECKING:
    from datawheel.project.demo import DemoReport

__all__ = ["write_demo_report"]


def _fairness_rows(report: DemoReport) -> list[dict[str, object]]:
    rows = []
    for column, entry in report.run.fairness.items():
        if "×" in column:
            continue
        rows.append(
            {
                "column": column,
                "groups": len(entry["groups"]),
                "demographic parity difference": entry["demographic_parity_difference"],
                "equalized odds difference": entry["equalized_odds_difference"],
            }
        )
    return rows


def write_demo_report(report: DemoReport, path: Path, *, champion: str) -> Path:
    """Render and atomically write the page; returns its path."""
    loop = report.loop
    comparison = loop.comparison
    sections = [
        Section(
            "Summary",
            kv_table(
                {
                    "champion now": champion,
                    "served after the loop": report.served_after,
                    "gate decision": loop.decision or _("not triggered"),
                    "loop trigger": loop.reason,
                    "requests / predictions / feedback": (
                        f"{report.requests} / {report.predictions} / {report.feedback}"
                    ),
                    "audit chain": _(f"verifies ({report.audit_entries} entries)")
                    if report.audit_ok
                    else _(f"BROKEN ({report.audit_entries} entries)"),
                    "workspace": str(report.directory),
                }
            ),
        ),
        Section(
            "Stage timings",
            bar_chart(
                list(report.timings),
                list(report.timings.values()),
                title="Seconds per stage",
                xlabel="seconds",
                horizontal=True,
            ),
        ),
    ]
    if comparison:
        metrics = ["accuracy", "f1", "roc_auc"]
        series = {
            f"{loop.champion} (champion)": [comparison["champion"].get(m) or 0.0 for m in metrics],
            f"{loop.challenger} (challenger)": [
                comparison["challenger"].get(m) or 0.0 for m in metrics
            ],
        }
        body = grouped_bar_chart(
            metrics,
            series,
            title="Same held-out rows: test split + held-out feedback",
            ylabel="score",
        )
        holdout = comparison.get("feedback_holdout")
        facts = {}
        if holdout:
            for metric in dict.fromkeys((holdout["metric"], "accuracy")):
                facts[f"{metric} on held-out feedback (the shifted group)"] = (
                    f"{loop.champion}: {holdout['champion'][metric]:.4f} → "
                    f"{loop.challenger}: {holdout['challenger'][metric]:.4f}"
                )
        paired = comparison.get("paired")
        if paired:
            facts[f"{paired['metric']} gain on the same {paired['n']} rows"] = (
                f"{paired['improvement']:+.4f} ({paired['confidence']:.0%} lower bound "
                f"{paired['lower']:+.4f}, p = {paired['p_value']:.3g})"
            )
        if facts:
            body += kv_table(facts)
        sections.append(Section("Champion vs challenger", body))
        sections.append(
            Section(
                "Gate decision",
                f"<p><strong>{escape(loop.decision)}</strong></p><ul>"
                + "".join(f"<li>{escape(r)}</li>" for r in loop.reasons)
                + "</ul>",
            )
        )
    sections.append(
        Section(
            "Fairness of the first model (test split)",
            table(_fairness_rows(report)),
            note=(
                "Gaps across all groups of each sensitive column. The gate uses the "
                "equalized-odds gap of groups with at least 30 positives and 30 negatives; "
                "smaller groups are reported, not gated."
            ),
        )
    )
    issues = report.feedback_by_issue
    sections.append(
        Section(
            "Feedback by issue",
            bar_chart(
                [str(r["group"]) for r in issues],
                [r["count"] for r in issues],
                title="Feedback count by issue",
                horizontal=True,
            )
            + table(issues, columns=["group", "count", "share", "labeled", "mean_rating", "trend"]),
        )
    )
    sections.append(Section("Model versions", table(report.versions)))
    html = render_page(
        "datawheel demo — the flywheel on census income data",
        sections,
        subtitle="clean → anonymize → train → evaluate → serve → feedback → "
        "retrain → gate → promote",
    )
    return write_page(path, html)
