"""Which feedback to trust: erased subjects out, and tenants whose labels look poisoned out.

The poisoning defence is deliberately simple. For each tenant with enough labels, measure how
often its labels agree with what the serving model answered where that model was confident
(top probability >= ``CONFIDENT``; all of the tenant's rows when fewer than half qualify).
Honest customers agree often even under drift, because confident answers stay mostly right;
random or flipped labels agree about as often as chance. A tenant is dropped when its agreement
is below the median of the *other* tenants' agreements by more than
``max(poison_max_drop, 3 × 1.4826 × MAD(other tenants))`` — a leave-one-out robust z-score with a
floor, so that it works from two tenants up and never fires on ordinary spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from datawheel.config import LoopConfig
from datawheel.store.db import erased_subjects, reading
from datawheel.store.workspace import Workspace

__all__ = ["CONFIDENT", "TenantAgreement", "erased", "suspicious_tenants", "tenant_agreement"]

CONFIDENT = 0.8


def erased(ws: Workspace) -> set[str]:
    """Pseudonyms of every erased subject."""
    with reading(ws.engine) as conn:
        return set(conn.execute(select(erased_subjects.c.subject)).scalars())


@dataclass(frozen=True)
class TenantAgreement:
    tenant_id: str | None
    labels: int
    judged_on: int  # rows the agreement was measured on
    agreement: float


def tenant_agreement(rows: list[dict[str, Any]]) -> list[TenantAgreement]:
    """Each tenant's label agreement with the served model, on its confident answers."""
    by_tenant: dict[str | None, list[dict[str, Any]]] = {}
    for r in rows:
        by_tenant.setdefault(r.get("tenant_id"), []).append(r)
    out = []
    for tenant, items in by_tenant.items():
        confident = [r for r in items if (r.get("confidence") or 0.0) >= CONFIDENT]
        basis = confident if len(confident) * 2 >= len(items) else items
        agree = sum(_agrees(r) for r in basis)
        out.append(TenantAgreement(tenant, len(items), len(basis), agree / len(basis)))
    return out


def _agrees(row: dict[str, Any]) -> bool:
    """Same class; for a regression, a true value inside the served prediction interval."""
    served = row.get("served") or {}
    if "low" in served and "high" in served and set(served) <= {"value", "low", "high"}:
        try:
            return served["low"] <= float(row["label"]) <= served["high"]
        except (TypeError, ValueError):
            return False
    return row["label"] == row.get("served_label")


def suspicious_tenants(
    agreements: list[TenantAgreement], policy: LoopConfig
) -> dict[str | None, str]:
    """Tenant → why its feedback is dropped (empty when nothing looks poisoned)."""
    judged = [a for a in agreements if a.labels >= policy.poison_min_labels]
    out: dict[str | None, str] = {}
    for a in judged:
        others = np.asarray([o.agreement for o in judged if o.tenant_id != a.tenant_id])
        if others.size == 0:
            continue
        median = float(np.median(others))
        mad = float(np.median(np.abs(others - median)))
        limit = max(policy.poison_max_drop, 3 * 1.4826 * mad)
        if median - a.agreement > limit:
            out[a.tenant_id] = (
                f"label agreement {a.agreement:.3f} on {a.judged_on} rows vs the other "
                f"tenants' median {median:.3f} (allowed drop {limit:.3f})"
            )
    return out
