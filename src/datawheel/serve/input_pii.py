"""A once-only warning when a model input field that no privacy rule covers receives text that
scans as PII: such text reaches the model and the prediction log as it was sent.

The request path only looks values up in sets (a value the model saw in training, or one
already checked, costs nothing more); new values are scanned on the write-behind thread. The
first hit for a field is logged once and stored (``meta`` row ``pii_input:<field>``, no value,
only the entity types), which ``datawheel status`` shows as an alert; every worker skips the
field from then on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.store.db import meta, now_iso, reading

__all__ = ["InputPiiWatch", "input_pii_warnings"]

log = logging.getLogger(__name__)

PREFIX = "pii_input:"
MAX_CHECKED = 10_000  # distinct new values remembered per field (then checking stops growing)
MAX_CHARS = 500  # only the start of a long value is scanned


def input_pii_warnings(engine: Engine) -> dict[str, dict[str, Any]]:
    """Fields that received PII-looking text: field → {"types", "first_seen", "model_version"}."""
    with reading(engine) as conn:
        rows = conn.execute(select(meta).where(meta.c.key.like(f"{PREFIX}%"))).all()
    return {r.key[len(PREFIX) :]: json.loads(r.value) for r in rows}


class InputPiiWatch:
    """``observe(rows)`` on the request path; ``scan()`` on a background thread."""

    def __init__(
        self,
        engine: Engine,
        fields: Mapping[str, Iterable[str]],
        *,
        submit: Callable[[Callable[[], None]], None],
        version: Callable[[], str],
    ) -> None:
        """``fields``: the watched input fields → the values seen in training (never PII
        worth a warning: the training data was anonymized). ``submit`` runs work off the
        request path (``WriteBehind.submit``)."""
        self._engine = engine
        self._submit = submit
        self._version = version
        warned = set(input_pii_warnings(engine))
        self._checked: dict[str, set[str | None]] = {  # None: a missing value, never scanned
            name: {None, *known} for name, known in fields.items() if name not in warned
        }
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Lock()  # the pending list, shared with the background thread

    @property
    def fields(self) -> list[str]:
        return list(self._checked)

    def observe(self, rows: list[dict[str, Any]]) -> None:
        """On the request path: set lookups only; new text values are queued for ``scan``."""
        watched = self._checked
        if not watched:
            return
        new = []
        for row in rows:
            for name, checked in watched.items():
                value = row.get(name)
                if value not in checked and type(value) is str and len(checked) < MAX_CHECKED:
                    checked.add(value)
                    new.append((name, value))
        if new:
            with self._lock:
                queued = bool(self._pending)
                self._pending.extend(new)
            if not queued:
                self._submit(self.scan)

    def scan(self) -> None:
        """Scan the values queued so far; warn (once per field, across workers) on a hit."""
        from datawheel.privacy.scan import scan_pii

        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        found: dict[str, set[str]] = {}
        spans = scan_pii([value[:MAX_CHARS] for _, value in pending])
        for (name, _), hits in zip(pending, spans, strict=True):
            if hits:
                found.setdefault(name, set()).update(s.type for s in hits)
        if found:  # a new dict, swapped in whole: the request path may be iterating the old
            self._checked = {k: v for k, v in self._checked.items() if k not in found}
        for name, types in found.items():
            if self._store(name, sorted(types)):
                log.warning(
                    "model input field %r received text that looks like PII (%s): it reaches "
                    "the model and the prediction log unanonymized; add a privacy.columns rule "
                    "for it (warned once; see `datawheel status`)",
                    name,
                    ", ".join(sorted(types)),
                )

    def _store(self, name: str, types: list[str]) -> bool:
        """Record the warning; False when another worker recorded it first."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        value = json.dumps(
            {"types": types, "first_seen": now_iso(), "model_version": self._version()}
        )
        with self._engine.begin() as conn:
            done = conn.execute(
                dialect.insert(meta)
                .values(key=(PREFIX + name)[:64], value=value)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return bool(done.rowcount)
