"""File in, file out: what the privacy commands do (the CLI only parses and prints)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from datawheel.atomic import atomic_write
from datawheel.config import ProjectConfig
from datawheel.io import read_table, write_table
from datawheel.privacy.anonymize import Anonymizer, AnonymizeStats
from datawheel.privacy.columns import detect_pii_columns
from datawheel.privacy.erasure import export_subject
from datawheel.privacy.kanon import (
    EnforceReport,
    KAnonReport,
    check_k_anonymity,
    enforce_k_anonymity,
)
from datawheel.privacy.reveal import RevealReport, reveal_frame
from datawheel.privacy.scan import Lang, scan_frame
from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace

__all__ = [
    "AnonymizedTable",
    "anonymize_file",
    "anonymize_table",
    "check_file",
    "export_subject_file",
    "reveal_file",
    "scan_file",
    "suggest_rule",
    "undeclared_pii",
]

# PII type → the rule suggested for a column of it (keyed tokens where joins matter).
_SUGGESTED = {
    "PHONE": "{mask: 4}",
    "CREDIT_CARD": "{mask: 4}",
    "IBAN": "{mask: 4}",
    "ADDRESS": "redact",
    "DATE_OF_BIRTH": "{generalize: year}",
    "URL": "redact",
}


def suggest_rule(pii_type: str) -> str:
    """The ``privacy.columns`` rule suggested for a column holding ``pii_type``."""
    return _SUGGESTED.get(pii_type, "pseudonymize")


def undeclared_pii(frame: pl.DataFrame, config: ProjectConfig) -> dict[str, str]:
    """Columns detected as PII that no rule covers: column → PII type. The subject id and the
    free-text columns (``data.text``, anonymized span by span) count as covered."""
    covered = set(config.privacy.columns) | set(config.data.text)
    if config.data.id:
        covered.add(config.data.id)
    found = detect_pii_columns(frame)
    return {c: pii.type for c, pii in found.items() if c not in covered}


@dataclass
class AnonymizedTable:
    frame: pl.DataFrame
    stats: AnonymizeStats
    undeclared: dict[str, str] = field(default_factory=dict)  # column → PII type (left as is)
    media: Any = None  # data.images / data.audio: the media stage's MediaScan
    rejects_file: Path | None = None  # the bad files, listed beside the output

    def suggestions(self) -> list[str]:
        """YAML lines to add under ``privacy.columns`` for the undeclared columns."""
        return [f"{c}: {suggest_rule(t)}" for c, t in self.undeclared.items()]


def anonymize_table(
    frame: pl.DataFrame,
    config: ProjectConfig,
    key: SecretKey,
    *,
    base_dir: Path | None = None,
) -> AnonymizedTable:
    """Apply ``config.privacy`` to ``frame`` as the pipeline does (id column to subject tokens,
    free-text columns span by span, images stripped of metadata and, with
    ``privacy.images.faces: blur``, of faces); columns the config names but the table lacks
    are skipped. Media paths are read relative to ``base_dir``."""
    present = {c: r for c, r in config.privacy.columns.items() if c in frame.columns}
    privacy = config.privacy.model_copy(update={"columns": present})
    id_column = config.data.id if config.data.id in frame.columns else None
    text = [c for c in config.data.text if c in frame.columns]
    images = [c for c in config.data.images if c in frame.columns]
    audio = [c for c in config.data.audio if c in frame.columns]
    scan = None
    if images or audio:
        from datawheel.data.media.table import normalize_media

        data = config.data.model_copy(update={"images": images, "audio": audio})
        frame, scan = normalize_media(frame, data, config.clean.media, base_dir=base_dir)
    anonymizer = Anonymizer(
        privacy, key, id_column=id_column, text_columns=text, image_columns=images
    )
    undeclared = undeclared_pii(frame.drop([*images, *audio]), config)
    out, stats = anonymizer.frame(frame)
    return AnonymizedTable(out, stats, undeclared, media=scan)


def _private_write(path: Path, data: bytes) -> None:
    """Write a file only its owner may read (it holds personal data), atomically."""
    atomic_write(path, data, mode=0o600)


def scan_file(
    source: str | Path,
    output: str | Path,
    *,
    text_field: str | None = None,
    lang: Lang = "auto",
    encoding: str = "auto",
    images: Sequence[str] = (),
) -> int:
    """`datawheel pii scan`: one JSON line per input row, ``{"index": i, "spans": [...]}``
    (offsets in code points, end exclusive). Returns the number of rows.

    With ``images`` (columns of paths relative to the file, bytes or base64), each line also
    has ``"media": [...]``: faces and the personal fields of each image's metadata
    (``datawheel.data.media.scan``); the text column is then guessed among the other columns, and
    a table with no other text column gets empty spans."""
    frame = read_table(source, encoding=encoding)
    findings: list[list[dict[str, Any]]] = [[] for _ in range(frame.height)]
    if images:
        from datawheel.data.media.scan import scan_image_values
        from datawheel.data.schema import require_columns

        require_columns(frame.columns, [("--images", c) for c in images], source=str(source))
        for column in images:
            found = scan_image_values(
                frame[column].to_list(), column, base_dir=Path(source).parent.resolve()
            )
            findings = [a + b for a, b in zip(findings, found, strict=True)]
        frame = frame.drop(images)
    if images and text_field is None and not any(t == pl.String for t in frame.schema.values()):
        spans: list[list[Any]] = [[] for _ in range(frame.height)]
    else:
        spans = scan_frame(frame, text_field, lang=lang)

    def line(i: int, row: list[Any]) -> str:
        record: dict[str, Any] = {"index": i, "spans": [s.to_dict() for s in row]}
        if images:
            record["media"] = findings[i]
        return json.dumps(record, ensure_ascii=False)

    lines = (line(i, row) for i, row in enumerate(spans))
    atomic_write(Path(output), "".join(line + "\n" for line in lines).encode("utf-8"))
    return len(spans)


def anonymize_file(
    source: str | Path,
    output: str | Path,
    config: ProjectConfig,
    key: SecretKey,
    *,
    encoding: str | None = None,
) -> AnonymizedTable:
    """`datawheel anonymize`: the project's privacy rules applied to a file, read as the
    project reads its data (``data.encoding`` unless ``encoding`` is given, ``data.dtypes``)."""
    frame = read_table(source, encoding=encoding or config.data.encoding, dtypes=config.data.dtypes)
    result = anonymize_table(frame, config, key, base_dir=Path(source).parent)
    write_table(result.frame, output)
    if result.media is not None and result.media.rejects:
        from datawheel.data.media.table import rejects_path, write_rejects

        result.rejects_file = write_rejects(result.media.rejects, rejects_path(Path(output)))
    return result


def check_file(
    source: str | Path,
    quasi: Sequence[str],
    k: int,
    *,
    sensitive: str | None = None,
    l: int | None = None,  # noqa: E741 — the l of l-diversity
    enforce_to: str | Path | None = None,
    max_suppression: float = 0.05,
    encoding: str = "auto",
) -> KAnonReport | EnforceReport:
    """`datawheel privacy check`: measure k (and l); with ``enforce_to``, enforce and write."""
    frame = read_table(source, encoding=encoding)
    if enforce_to is None:
        return check_k_anonymity(frame, quasi, k, sensitive=sensitive, l=l)
    out, report = enforce_k_anonymity(
        frame, quasi, k, sensitive=sensitive, l=l, max_suppression=max_suppression
    )
    write_table(out, enforce_to)
    return report


def reveal_file(
    ws: Workspace,
    source: str | Path,
    output: str | Path,
    *,
    columns: Sequence[str] | None = None,
    encoding: str = "auto",
) -> RevealReport:
    """`datawheel reveal`: decrypt the encrypted fields of a file into a file only you can read."""
    out, report = reveal_frame(ws, read_table(source, encoding=encoding), columns=columns)
    write_table(out, output)
    Path(output).chmod(0o600)
    return report


def export_subject_file(
    ws: Workspace, subject: str, output: str | Path, *, id_column: str | None
) -> dict[str, int]:
    """`datawheel subject export`: everything held about a subject, as JSON (mode 0600)."""
    data = export_subject(ws, subject, id_column=id_column)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    _private_write(Path(output), text.encode("utf-8"))
    return {
        "datasets": len(data["datasets"]),
        "rows": sum(len(d["rows"]) for d in data["datasets"]),
        "predictions": len(data["predictions"]),
        "feedback": len(data["feedback"]),
        "model_versions": len(data["model_versions"]),
    }
