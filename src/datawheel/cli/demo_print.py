"""The demo's terminal summary (rich): timings, v1 vs v2, fairness, feedback, the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from datawheel.project.demo import DemoReport

__all__ = ["print_demo"]


def _num(value: object) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def print_demo(console: Console, report: DemoReport) -> None:
    timings = Table(title="Stage timings")
    timings.add_column("stage")
    timings.add_column("seconds", justify="right")
    for stage, seconds in report.timings.items():
        timings.add_row(stage, f"{seconds:.2f}")
    console.print(timings)

    live = report.live_before
    console.print(
        f"Customers: {report.requests} requests, {report.predictions} predictions, "
        f"{report.feedback} feedback. Live accuracy of {report.run.model_version} on the shifted "
        f"group: {_num(live.get('accuracy'))} over {live.get('labeled')} labels."
    )
    drift = report.drift_before
    if drift.get("features"):
        shown = Table(title=f"Drift of {drift['version']}: training vs {drift['recent']} requests")
        for column in ("feature", "PSI", "test", "p-value", ""):
            shown.add_column(column)
        for f in drift["features"][:6]:
            shown.add_row(
                f["feature"],
                f"{f['psi']:.3f}",
                f["test"],
                f"{f['p_value']:.2g}",
                f"> {drift['threshold']:g}" if f["drifted"] else "",
            )
        console.print(shown)
    issues = Table(title="Feedback by issue")
    for column in ("issue", "count", "share", "labeled", "mean rating"):
        issues.add_column(column)
    for row in report.feedback_by_issue:
        issues.add_row(
            str(row["group"]),
            str(row["count"]),
            f"{row['share']:.1%}",
            str(row["labeled"]),
            _num(row["mean_rating"]),
        )
    console.print(issues)

    fairness = Table(title=f"Fairness of {report.run.model_version} (test split)")
    for column in ("column", "demographic parity diff", "equalized odds diff"):
        fairness.add_column(column)
    for column, entry in report.run.fairness.items():
        if "×" not in column:
            fairness.add_row(
                column,
                _num(entry["demographic_parity_difference"]),
                _num(entry["equalized_odds_difference"]),
            )
    console.print(fairness)

    loop = report.loop
    if loop.comparison:
        versus = Table(title=f"{loop.champion} vs {loop.challenger} on the same held-out rows")
        for column in ("metric", loop.champion or "", loop.challenger or ""):
            versus.add_column(column, justify="right")
        for metric in ("accuracy", "f1", "roc_auc", "fairness_gap"):
            versus.add_row(
                metric,
                _num(loop.comparison["champion"].get(metric)),
                _num(loop.comparison["challenger"].get(metric)),
            )
        holdout = loop.comparison.get("feedback_holdout")
        if holdout:
            for metric in dict.fromkeys((holdout["metric"], "accuracy")):
                versus.add_row(
                    f"{metric} on held-out feedback",
                    _num(holdout["champion"][metric]),
                    _num(holdout["challenger"][metric]),
                )
        console.print(versus)
        paired = loop.comparison.get("paired")
        if paired:
            console.print(
                f"{paired['metric']} gain {paired['improvement']:+.4f} on {paired['n']} paired "
                f"rows, {paired['confidence']:.0%} lower bound {paired['lower']:+.4f} "
                f"(p = {paired['p_value']:.3g})"
            )
    colour = "green" if loop.decision == "promote" else "yellow"
    console.print(f"Loop: {loop.reason}")
    console.print(f"Gate: [bold {colour}]{loop.decision or 'not triggered'}[/]")
    for reason in loop.reasons:
        console.print(f"  · {reason}")
    console.print(
        f"Now serving {report.served_after}. Audit chain: "
        f"{'verifies' if report.audit_ok else 'BROKEN'} ({report.audit_entries} entries)."
    )
    if report.report_path:
        console.print(f"Report: {report.report_path}")
