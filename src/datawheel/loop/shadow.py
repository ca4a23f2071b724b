"""Shadow traffic: judge a shadow version against the champion on the SAME labeled requests.

The verdict is McNemar's exact test on those pairs: only the requests where exactly one of the
two was right carry evidence, and the shadow is promoted only when it won significantly more of
them (one-sided, ``gates.confidence``). A tie — or a lead that noise explains — never promotes.

The server logs the shadow's prediction of a request with ``shadow=True`` beside the champion's;
customers label the champion's prediction (the one they saw). A pair is the two predictions of
one request: same ``request_id`` when the server fills it, otherwise identical ``features`` logged
within ``PAIR_SECONDS`` of each other (each champion row used once, the closest first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from datawheel.loop.feedback import wilson_interval
from datawheel.registry.versions import ModelVersion
from datawheel.store.db import feedback, predictions, reading
from datawheel.store.workspace import Workspace

__all__ = ["PAIR_SECONDS", "ShadowResult", "judge_shadow", "mcnemar_p", "shadow_pairs"]

PAIR_SECONDS = 5.0


@dataclass(frozen=True)
class ShadowResult:
    shadow: str
    champion: str
    pairs: int  # labeled requests both answered
    needed: int
    shadow_accuracy: float | None
    champion_accuracy: float | None
    decision: str | None  # None while fewer than `needed` pairs; else promote | reject
    reasons: list[str]
    shadow_only_right: int = 0  # pairs the shadow got right and the champion wrong …
    champion_only_right: int = 0  # … and the other way round: McNemar's discordant pairs
    p_value: float | None = None  # one-sided exact McNemar: P(a lead this large by chance)


def _key(features: Any) -> str:
    return json.dumps(features, sort_keys=True, default=str)


def _labeled_champion_rows(ws: Workspace, champion_id: str, after: str) -> list[Any]:
    stmt = (
        select(
            predictions.c.id,
            predictions.c.request_id,
            predictions.c.features,
            predictions.c.label,
            predictions.c.created_at,
            feedback.c.label.label("truth"),
        )
        .select_from(feedback.join(predictions, predictions.c.id == feedback.c.prediction_id))
        .where(
            predictions.c.model_version == champion_id,
            predictions.c.shadow.is_(False),
            predictions.c.created_at >= after,
            feedback.c.label.is_not(None),
        )
        .order_by(feedback.c.created_at, feedback.c.id)
    )
    with reading(ws.engine) as conn:
        latest = {r.id: r for r in conn.execute(stmt)}  # the latest label per prediction
    return list(latest.values())


def shadow_pairs(
    ws: Workspace, shadow: ModelVersion, champion_id: str
) -> list[tuple[str, str, str]]:
    """(shadow label, champion label, true label) for each labeled request both answered."""
    after = shadow.stage_changed_at
    with reading(ws.engine) as conn:
        shadow_rows = conn.execute(
            select(
                predictions.c.request_id,
                predictions.c.features,
                predictions.c.label,
                predictions.c.created_at,
            ).where(
                predictions.c.model_version == shadow.id,
                predictions.c.shadow.is_(True),
                predictions.c.created_at >= after,
            )
        ).all()
    slack = timedelta(seconds=PAIR_SECONDS)
    earliest = (datetime.fromisoformat(after) - slack).isoformat(timespec="microseconds")
    champion_rows = _labeled_champion_rows(ws, champion_id, earliest)
    by_request = {r.request_id: r for r in champion_rows if r.request_id}
    by_features: dict[str, list[Any]] = {}
    for r in champion_rows:
        by_features.setdefault(_key(r.features), []).append(r)
    used: set[str] = set()
    pairs = []
    for s in shadow_rows:
        match = by_request.get(s.request_id) if s.request_id else None
        if match is None:
            at = datetime.fromisoformat(s.created_at)
            near = [
                (abs((datetime.fromisoformat(c.created_at) - at).total_seconds()), c)
                for c in by_features.get(_key(s.features), [])
                if c.id not in used
            ]
            near = [(d, c) for d, c in near if d <= slack.total_seconds()]
            match = min(near, key=lambda dc: dc[0])[1] if near else None
        if match is None or match.id in used:
            continue
        used.add(match.id)
        pairs.append((s.label, match.label, match.truth))
    return pairs


def mcnemar_p(wins: int, losses: int) -> float:
    """One-sided exact McNemar p-value: P(>= ``wins`` of the discordant pairs by chance)."""
    from scipy.stats import binomtest

    if wins + losses == 0:
        return 1.0
    return float(binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue)


def judge_shadow(
    ws: Workspace,
    shadow: ModelVersion,
    champion: ModelVersion,
    *,
    needed: int,
    confidence: float = 0.95,
) -> ShadowResult:
    """Decide once ``needed`` labeled requests were shadowed: promote only if the shadow was
    right significantly more often than the champion on the same requests."""
    pairs = shadow_pairs(ws, shadow, champion.id)
    n = len(pairs)
    if n == 0:
        note = f"0/{needed} labeled shadowed requests"
        return ShadowResult(shadow.id, champion.id, 0, needed, None, None, None, [note])
    s_ok = sum(s == t for s, _, t in pairs)
    c_ok = sum(c == t for _, c, t in pairs)
    s_acc, c_acc = s_ok / n, c_ok / n
    s_lo, s_hi = wilson_interval(s_ok, n)
    progress = (
        f"shadow {shadow.id} accuracy {s_acc:.4f} [{s_lo:.3f}, {s_hi:.3f}] vs champion "
        f"{champion.id} {c_acc:.4f} on the same {n} labeled requests"
    )
    if n < needed:
        note = f"{n}/{needed} labeled shadowed requests; {progress}"
        return ShadowResult(shadow.id, champion.id, n, needed, s_acc, c_acc, None, [note])
    wins = sum(s == t and c != t for s, c, t in pairs)
    losses = sum(c == t and s != t for s, c, t in pairs)
    p_value = mcnemar_p(wins, losses)
    ok = wins > losses and p_value < 1 - confidence
    reasons = [
        f"{'pass' if ok else 'FAIL'} {progress}; right where the other was wrong: shadow {wins}, "
        f"champion {losses} (McNemar p = {p_value:.3g}; required: better at {confidence:.0%})",
    ]
    return ShadowResult(
        shadow.id, champion.id, n, needed, s_acc, c_acc, "promote" if ok else "reject", reasons,
        wins, losses, p_value,
    )  # fmt: skip
