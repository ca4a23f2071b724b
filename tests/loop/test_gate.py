"""The gate: promote only a challenger better beyond noise on the same rows, better than the
trivial baseline, as fair, and fast enough; an erasure retrain only needs non-inferiority."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from datawheel.config import GatesConfig
from datawheel.errors import UsageError
from datawheel.evaluate.assess import assess
from datawheel.evaluate.fairness import GatedGap
from datawheel.loop.gate import decide

N = 1000
RNG = np.random.default_rng(0)
TRUTH = np.where(RNG.random(N) < 0.4, "yes", "no")
SIGNAL = RNG.normal(size=N)  # shared noise: both models see the same hard rows


class _Scores:
    """A fixed scorer: P(yes) from a logistic of ``skill`` × the truth plus shared noise."""

    def __init__(self, skill: float, noise: float = 0.0, seed: int = 1):
        self.classes = ["no", "yes"]
        own = np.random.default_rng(seed).normal(size=N) * noise
        logit = skill * np.where(TRUTH == "yes", 1.0, -1.0) + SIGNAL + own
        self.p = 1 / (1 + np.exp(-logit))
        self.extras = {"class_prior": [0.6, 0.4]}

    def predict_proba(self, rows: pl.DataFrame) -> np.ndarray:
        idx = rows["i"].to_numpy()
        return np.column_stack([1 - self.p[idx], self.p[idx]])


FRAME = pl.DataFrame({"i": np.arange(N), "y": TRUTH})


def _assess(model: _Scores, gap: float | None = 0.05, frame: pl.DataFrame = FRAME):
    a = assess(model, frame, target="y", sensitive=[])
    a.gap = gap  # fairness is the fairness tests' business; here it is set by hand
    a.gated = GatedGap(
        gap,
        "sex" if gap is not None else None,
        30,
        "" if gap else "no sensitive column is set (data.sensitive)",
    )
    return a


GATES = GatesConfig(min_improvement=0.0, max_fairness_gap=0.1, max_latency_ms=50)


@pytest.mark.parametrize(
    ("new", "old", "latency", "decision", "failing"),
    [
        # clearly better on the same rows, fair, fast: promoted
        (_assess(_Scores(1.5)), _assess(_Scores(0.5)), 1.0, "promote", None),
        # clearly worse
        (_assess(_Scores(0.5)), _assess(_Scores(1.5)), 1.0, "reject", "roc_auc"),
        # better but less fair, over the limit
        (_assess(_Scores(1.5), 0.15), _assess(_Scores(0.5)), 1.0, "reject", "fairness"),
        # over the limit, but fairer than the champion
        (_assess(_Scores(1.5), 0.14), _assess(_Scores(0.5), 0.20), 1.0, "promote", None),
        # fairness not measurable: said so, not gated
        (_assess(_Scores(1.5), None), _assess(_Scores(0.5)), 1.0, "promote", None),
        # too slow
        (_assess(_Scores(1.5)), _assess(_Scores(0.5)), 80.0, "reject", "latency"),
    ],
)
def test_decide_when_case_then_decision(new, old, latency, decision, failing):
    result = decide(new, old, challenger_latency_ms=latency, gates=GATES)
    assert result.decision == decision
    failed = [r for r in result.reasons if r.startswith("FAIL")]
    if failing:
        assert len(failed) == 1 and failing in failed[0]
    else:
        assert not failed
    assert len(result.reasons) == 4  # quality, baseline, fairness, latency
    assert result.comparison["rows"] == N and result.comparison["metric"] == "roc_auc"


def test_decide_when_exact_tie_then_rejected():
    same = _Scores(1.0)
    result = decide(_assess(same), _assess(same), challenger_latency_ms=1, gates=GATES)
    assert result.decision == "reject"
    assert result.comparison["paired"]["improvement"] == 0.0
    assert (
        result.comparison["paired"]["lower"] == 0.0
        and not result.comparison["paired"]["significant"]
    )


def test_decide_when_gain_is_noise_then_rejected_although_positive():
    # two equally skilled models differing only by their own noise: a small positive gain
    # on these rows is not evidence; the paired test must not promote it
    champion, challenger = _Scores(1.0, noise=0.3, seed=1), _Scores(1.0, noise=0.3, seed=7)
    new, old = _assess(challenger), _assess(champion)
    result = decide(new, old, challenger_latency_ms=1, gates=GATES)
    paired = result.comparison["paired"]
    assert abs(paired["improvement"]) < 0.01  # a tiny gain either way …
    assert result.decision == "reject"  # … never significant
    assert paired["lower"] <= 0 < paired["upper"] or paired["improvement"] <= 0


def test_decide_when_min_improvement_above_a_significant_gain_then_rejected():
    new, old = _assess(_Scores(1.1)), _assess(_Scores(1.0))
    gain = decide(new, old, challenger_latency_ms=1, gates=GATES).comparison["paired"]
    assert gain["significant"]
    strict = GatesConfig(min_improvement=gain["improvement"] + 0.001)
    result = decide(new, old, challenger_latency_ms=1, gates=strict)
    assert result.decision == "reject" and "required" in result.reasons[0]


@pytest.mark.parametrize(
    ("challenger_skill", "margin", "decision"),
    [
        (0.98, 0.02, "promote"),  # slightly worse, within the erasure margin: replaced
        (0.5, 0.02, "reject"),  # far worse: kept out even after an erasure
    ],
)
def test_decide_when_erasure_retrain_then_non_inferiority(challenger_skill, margin, decision):
    gates = GatesConfig(erasure_margin=margin)
    new, old = _assess(_Scores(challenger_skill)), _assess(_Scores(1.0))
    result = decide(new, old, challenger_latency_ms=1, gates=gates, erasure=True)
    assert result.decision == decision
    assert result.comparison["erasure"] is True and "erasure" in result.reasons[0]
    # the same challenger without the erasure exemption is not an improvement
    assert decide(new, old, challenger_latency_ms=1, gates=gates).decision == "reject"


def test_decide_when_challenger_no_better_than_baseline_then_rejected():
    # both models are noise: the challenger "wins" the pair but not against always-"no"
    useless = _assess(_Scores(0.0, noise=1.0, seed=3))
    worse = _assess(_Scores(-0.3))
    result = decide(useless, worse, challenger_latency_ms=1, gates=GATES)
    assert result.decision == "reject"
    assert any(r.startswith("FAIL beats the trivial baseline") for r in result.reasons)


def test_decide_when_rows_differ_then_usage_error():
    old = _assess(_Scores(1.0), frame=FRAME.head(N - 10))
    with pytest.raises(UsageError, match="same rows"):
        decide(_assess(_Scores(1.5)), old, challenger_latency_ms=1, gates=GATES)


def test_decide_when_challenger_trained_with_dp_then_epsilon_shown_and_compared():
    challenger = _assess(_Scores(1.5))
    challenger.metrics["privacy"] = {"epsilon": 2.97, "delta": 1e-5}
    result = decide(challenger, _assess(_Scores(0.5)), challenger_latency_ms=1.0, gates=GATES)
    assert result.decision == "promote"
    assert any(r.startswith("info") and "epsilon 2.97" in r for r in result.reasons)
    assert result.comparison["challenger"]["dp_epsilon"] == 2.97


@pytest.mark.parametrize("erasure", [False, True])
@pytest.mark.parametrize(
    ("new_gap", "old_gap", "latency"),
    [(0.05, 0.05, 1.0), (0.15, 0.05, 80.0), (0.14, 0.20, 1.0), (None, None, 1.0), (0.3, None, 1.0)],
)
def test_reasons_when_chinese_interface_then_every_line_translated(
    monkeypatch, erasure, new_gap, old_gap, latency
):
    """Reasons are stored in English and shown translated: each is a catalog template whose
    verdict and phrases are translated too — no English word is left but metric names."""
    from datawheel.i18n.catalog import translate

    challenger = _assess(_Scores(1.5), new_gap)
    challenger.metrics["privacy"] = {"epsilon": 2.97, "delta": 1e-5}
    result = decide(challenger, _assess(_Scores(0.5), old_gap), challenger_latency_ms=latency,
                    gates=GATES, erasure=erasure)  # fmt: skip
    monkeypatch.setenv("DATAWHEEL_LANG", "zh_CN")
    for reason in result.reasons:
        shown = translate(reason)
        assert shown != reason, reason
        prose = re.sub(r"\b\w+\.\w+\b", "", shown)  # project-file keys stay as they are
        words = set(re.findall(r"[A-Za-z]{3,}", prose)) - {"roc_auc", "roc", "auc", "sex", "SGD",
                                                           "epsilon", "delta"}  # fmt: skip
        assert not words, (reason, shown)
