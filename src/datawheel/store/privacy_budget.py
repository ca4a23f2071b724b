"""The privacy-loss ledger: each dataset has an (ε, δ) budget; every DP query spends from it.

The spend is checked and recorded in the same write transaction that releases the figures, so
two concurrent queries cannot both fit into the last of a budget, and a release that fails
before its noise is drawn spends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update

from datawheel.errors import UsageError
from datawheel.store.db import dp_budgets, dp_queries, now_iso, reading
from datawheel.store.workspace import Workspace

__all__ = ["Budget", "BudgetExceeded", "budget_of", "spend"]

T = TypeVar("T")


class BudgetExceeded(UsageError):
    """A query would spend more privacy loss than the dataset has left."""


@dataclass(frozen=True)
class Budget:
    dataset: str
    epsilon_budget: float
    delta_budget: float
    epsilon_spent: float
    delta_spent: float
    queries: int = 0

    @property
    def epsilon_left(self) -> float:
        return max(0.0, self.epsilon_budget - self.epsilon_spent)

    @property
    def delta_left(self) -> float:
        return max(0.0, self.delta_budget - self.delta_spent)


def _row(conn: Connection, dataset: str) -> Any:
    return conn.execute(select(dp_budgets).where(dp_budgets.c.dataset == dataset)).first()


def budget_of(ws: Workspace, dataset: str, *, epsilon: float, delta: float) -> Budget:
    """The ledger of ``dataset``; the defaults apply until its first query opens it."""
    with reading(ws.engine) as conn:
        row = _row(conn, dataset)
        n = len(conn.execute(select(dp_queries.c.id).where(dp_queries.c.dataset == dataset)).all())
    if row is None:
        return Budget(dataset, epsilon, delta, 0.0, 0.0, 0)
    return Budget(
        dataset, row.epsilon_budget, row.delta_budget, row.epsilon_spent, row.delta_spent, n
    )


def spend(
    ws: Workspace,
    dataset: str,
    *,
    epsilon: float,
    delta: float,
    budget_epsilon: float,
    budget_delta: float,
    query: dict[str, Any],
    release: Callable[[], T],
) -> T:
    """Spend (ε, δ) on ``dataset`` and run ``release`` in the same transaction.

    Raises BudgetExceeded (exit 2) with what is left when the query does not fit.
    """
    with ws.engine.begin() as conn:
        row = _row(conn, dataset)
        if row is None:
            conn.execute(
                insert(dp_budgets).values(
                    dataset=dataset,
                    epsilon_budget=budget_epsilon,
                    delta_budget=budget_delta,
                    epsilon_spent=0.0,
                    delta_spent=0.0,
                )
            )
            row = _row(conn, dataset)
        eps_left = row.epsilon_budget - row.epsilon_spent
        delta_left = row.delta_budget - row.delta_spent
        if epsilon > eps_left + 1e-12 or delta > delta_left + 1e-18:
            raise BudgetExceeded(
                f"this query needs epsilon={epsilon:g}, delta={delta:g} but the dataset has "
                f"epsilon={max(0.0, eps_left):g}, delta={max(0.0, delta_left):g} left",
                where=dataset,
                hint="ask for less (a smaller --epsilon, fewer measures), or release the figures "
                "you already have: a spent budget does not come back",
            )
        result = release()
        conn.execute(
            update(dp_budgets)
            .where(dp_budgets.c.dataset == dataset)
            .values(
                epsilon_spent=dp_budgets.c.epsilon_spent + epsilon,
                delta_spent=dp_budgets.c.delta_spent + delta,
            )
        )
        conn.execute(
            insert(dp_queries).values(
                dataset=dataset, epsilon=epsilon, delta=delta, query=query, created_at=now_iso()
            )
        )
        ws.record(conn, "dp.query", dataset, {"epsilon": epsilon, "delta": delta, **query})
    return result
