"""Reveal: decrypt the ``encrypt``-operator fields of a table (admin only, audited)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from datawheel.errors import DataError
from datawheel.privacy.operators import ENCRYPTED_PREFIX, decrypt_value
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = ["RevealReport", "reveal_frame"]

_ENC = re.compile(re.escape(ENCRYPTED_PREFIX) + r"[A-Za-z0-9_\-=]+")


@dataclass
class RevealReport:
    cells: dict[str, int] = field(default_factory=dict)  # column → values decrypted


def reveal_frame(
    ws: Workspace, frame: pl.DataFrame, *, columns: Sequence[str] | None = None
) -> tuple[pl.DataFrame, RevealReport]:
    """Decrypt every ``enc:v1:`` value (whole cells, or inside free text) of ``columns``
    (default: every text column holding one). Each field is bound to its column name, so a
    value moved to another column does not decrypt. The audit log records columns and counts.
    """
    require(ws, "reveal")
    key = ws.secret_key()
    missing = [c for c in columns or () if c not in frame.columns]
    if missing:
        raise DataError(f"no column {missing[0]!r}", hint=f"columns: {', '.join(frame.columns)}")
    chosen = list(columns) if columns else [c for c, t in frame.schema.items() if t == pl.String]
    report = RevealReport()
    replaced = []
    for column in chosen:
        series = frame[column].cast(pl.String, strict=False)
        if not bool(series.str.contains(ENCRYPTED_PREFIX, literal=True).any()):
            continue

        def plain(match: re.Match[str], column: str = column) -> str:
            return decrypt_value(key, match.group(0), column=column, role=ws.role)

        distinct = series.drop_nulls().unique().to_list()
        mapping = {v: _ENC.sub(plain, v) for v in distinct}
        report.cells[column] = int(series.str.contains(ENCRYPTED_PREFIX, literal=True).sum())
        replaced.append(series.replace_strict(mapping, default=None, return_dtype=pl.String))
    with ws.engine.begin() as conn:
        ws.record(conn, "privacy.reveal", "file", {"cells": report.cells})
    return frame.with_columns(replaced), report
