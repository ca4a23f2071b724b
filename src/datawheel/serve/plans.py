"""Plans: the project file's ``serve.plans``, with the plans made or changed in the console
(table ``plans``) over those of the same name. A server reads a tenant's plan together with its
API key (``tenants.authenticate``), so a change reaches every worker within the auth cache's
seconds and costs the request path nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.config import PlanConfig, ProjectConfig
from datawheel.errors import UsageError
from datawheel.store.db import now_iso, plans, reading
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["PLAN_FIELDS", "PlanEntry", "plan_book", "plan_limits", "plan_names", "save_plan"]

PLAN_FIELDS = tuple(PlanConfig.model_fields)  # requests_per_minute, monthly_quota, …
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class PlanEntry:
    """A plan as it is in force, and where it comes from."""

    name: str
    limits: PlanConfig
    in_project_file: bool  # serve.plans names it (the console may still have changed it)
    updated_at: str | None = None  # when the console last saved it; None: as in the file
    updated_by: str | None = None


def plan_book(ws: Workspace, config: ProjectConfig) -> dict[str, PlanEntry]:
    """Every plan in force, by name: the project file's, then the console's over them."""
    book = {
        name: PlanEntry(name, limits, in_project_file=True)
        for name, limits in config.serve.plans.items()
    }
    with reading(ws.engine) as conn:
        rows = conn.execute(select(plans).order_by(plans.c.name)).all()
    for row in rows:
        limits = PlanConfig(**{name: getattr(row, name) for name in PLAN_FIELDS})
        book[row.name] = PlanEntry(
            row.name, limits, row.name in config.serve.plans, row.updated_at, row.updated_by
        )
    return dict(sorted(book.items(), key=lambda item: item[1].limits.monthly_quota))


def plan_names(ws: Workspace, config: ProjectConfig) -> list[str]:
    """The names a tenant may be put on."""
    return list(plan_book(ws, config))


def plan_limits(ws: Workspace, config: ProjectConfig, name: str) -> PlanConfig | None:
    """The limits of plan ``name`` in force, or None for a plan nobody defines."""
    entry = plan_book(ws, config).get(name)
    return entry.limits if entry is not None else None


def _limits(values: dict[str, Any]) -> PlanConfig:
    """Validated limits; an error names the field and the rule."""
    try:
        return PlanConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "plan"
        raise UsageError(
            f"{field}: {first.get('msg')}, got {first.get('input')!r}",
            where=field,
            hint="limits are whole numbers of at least 1",
        ) from None


def save_plan(ws: Workspace, config: ProjectConfig, name: str, values: dict[str, Any]) -> PlanEntry:
    """Create plan ``name`` or change its limits (``values``: PlanConfig's fields; missing
    ones keep their current value, or PlanConfig's default). Admin only, audited with the old
    and new limits. Tenants on it get the new limits within ``serve.auth_cache_seconds``."""
    require(ws, "tenants")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"plan name {name!r} is not allowed",
            where="name",
            hint="1-40 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    before = plan_limits(ws, config, name)
    merged = {**(before.model_dump() if before else {}), **values}
    limits = _limits(merged)
    row = {"name": name, **limits.model_dump(), "updated_at": now_iso(), "updated_by": ws.actor}
    dialect = postgresql if ws.engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(plans).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={k: v for k, v in row.items() if k != "name"}
    )
    with ws.engine.begin() as conn:
        conn.execute(stmt)
        ws.record(
            conn,
            "plan.save",
            name,
            {"from": before.model_dump() if before else None, "to": limits.model_dump()},
        )
    return PlanEntry(name, limits, name in config.serve.plans, row["updated_at"], ws.actor)
