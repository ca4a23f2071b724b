"""The media part of the data-quality report: per-column counts, size and duration histograms,
thumbnails of rejected files and of duplicate pairs (inline PNG, no external files)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from typing import Any

from datawheel.i18n.catalog import _
from datawheel.report import html, plots

__all__ = ["THUMB_PIXELS", "media_sections", "thumbnail"]

THUMB_PIXELS = 96  # the long side of a thumbnail
_STYLE = (
    "<style>.thumbs { display: flex; flex-wrap: wrap; gap: 12px; }"
    " .thumbs figure { margin: 0; width: 120px; font-size: 12px; }"
    " .thumbs .pair { width: 232px; } .thumbs img { border: 1px solid #ccc; }"
    " .thumbs .none { width: 96px; height: 72px; display: flex; align-items: center;"
    " justify-content: center; background: #eee; color: #666; }</style>"
)
_truncated_lock = threading.Lock()  # Pillow's LOAD_TRUNCATED_IMAGES is process-wide


def thumbnail(data: bytes | None, *, blur_faces: bool = False) -> str | None:
    """A ``data:image/png;base64,…`` URI of a small preview, or None when nothing decodes.

    A truncated file shows what arrived (Pillow fills the rest with grey).
    """
    if not data:
        return None
    from PIL import Image, ImageFile, ImageOps

    with _truncated_lock:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.seek(0)
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            return None  # the file is too broken to show: the caption says why
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
    image.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
    if blur_faces:
        from datawheel.data.media.faces import blur_faces as blur

        image, _count = blur(image)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _figure(uri: str | None, caption: str) -> str:
    shown = (
        f'<img src="{uri}" alt="{html.escape(caption)}">'
        if uri
        else f'<div class="none">{html.escape(_("no preview"))}</div>'
    )
    return f"<figure>{shown}<figcaption>{html.escape(caption)}</figcaption></figure>"


def media_sections(
    scan: Any, examples: Sequence[Any] = (), *, blur_faces: bool = False
) -> list[html.Section]:
    """Sections for a MediaScan: counts, distributions, rejected files, duplicate files."""
    return [
        _counts(scan),
        _distributions(scan),
        _rejected(scan, blur_faces),
        _duplicates(scan, examples, blur_faces),
    ]


def _counts(scan: Any) -> html.Section:
    rows = []
    for column, entry in scan.summary().items():
        if not isinstance(entry, dict):
            continue
        rejected = entry["rejected"]
        rows.append(
            {
                "column": column,
                "kind": entry["kind"],
                "files ok": entry["checked"],
                "empty cells": entry["absent"],
                "rejected": sum(rejected.values()),
                "by reason": ", ".join(f"{k} {v}" for k, v in rejected.items()) or None,
                "formats": ", ".join(f"{k} {v}" for k, v in entry["formats"].items()) or None,
                "clips cut": entry.get("cut"),
                "silence trimmed (s)": entry.get("trimmed_seconds"),
            }
        )
    note = _(
        "Every file was decoded. A rejected file leaves its row without it (clean.media."
        "on_error: keep) or removes the row (drop); the side file lists each one."
    )
    body = html.table(rows, highlight=lambda row: bool(row["rejected"]))
    if scan.rows_dropped:
        body += html.kv_table({"rows dropped for a bad file": scan.rows_dropped})
    return html.Section("Images and audio", body, note=note)


def _distributions(scan: Any) -> html.Section:
    charts = []
    for column, sizes in scan.sizes.items():
        if sizes:
            charts.append(plots.histogram([w for w, _h in sizes], title=f"{column}: width",
                                          bins=20, xlabel="pixels"))  # fmt: skip
            charts.append(plots.histogram([h for _w, h in sizes], title=f"{column}: height",
                                          bins=20, xlabel="pixels"))  # fmt: skip
    for column, seconds in scan.seconds.items():
        if seconds:
            charts.append(plots.histogram(seconds, title=f"{column}: duration", bins=20,
                                          xlabel="seconds"))  # fmt: skip
    if not charts:
        return html.Section("Image sizes and clip durations", f"<p>{_('No files decoded.')}</p>")
    body = '<div class="charts">' + "".join(f"<figure>{c}</figure>" for c in charts) + "</div>"
    return html.Section(
        "Image sizes and clip durations",
        body,
        note="Images as decoded (EXIF rotation applied); clips after silence trimming and cutting.",
    )


def _rejected(scan: Any, blur_faces: bool) -> html.Section:
    if not scan.rejects:
        return html.Section("Rejected files", f"<p>{_('No file was rejected.')}</p>")
    figures = [
        _figure(thumbnail(s.data, blur_faces=blur_faces), f"row {s.row} · {s.column} · {s.reason}")
        for s in scan.samples
    ]
    body = ""
    if figures:
        body += _STYLE + '<div class="thumbs">' + "".join(figures) + "</div>"
    body += html.table(
        [{"row": r.row, "column": r.column, "reason": r.reason, "detail": r.detail}
         for r in scan.rejects[:50]]
    )  # fmt: skip
    note = _(f"The first {min(50, len(scan.rejects))} of {scan.rejected_total} rejected files.")
    return html.Section("Rejected files", body, note=note)


def _duplicates(scan: Any, examples: Sequence[Any], blur_faces: bool) -> html.Section:
    if not examples:
        return html.Section("Duplicate files", f"<p>{_('No duplicate file was removed.')}</p>")
    figures = []
    for e in examples:
        kind = e.reason.replace("_", " ")
        if e.column in scan.images:
            pair = _figure(
                thumbnail(e.kept, blur_faces=blur_faces), f"kept: row {e.kept_index}"
            ) + _figure(
                thumbnail(e.duplicate, blur_faces=blur_faces),
                f"removed: row {e.duplicate_index} ({kind})",
            )
            figures.append(f'<div class="pair" style="display:flex;gap:8px">{pair}</div>')
    body = _STYLE + '<div class="thumbs">' + "".join(figures) + "</div>" if figures else ""
    body += html.table(
        [{"kind": e.reason.replace("_", " "), "column": e.column, "kept row": e.kept_index,
          "removed row": e.duplicate_index} for e in examples]
    )  # fmt: skip
    return html.Section(
        "Duplicate files",
        body,
        note="Exact: the same content; near: images whose perceptual hashes differ in at most "
        "clean.dedup.media.max_distance bits. The first row of each cluster is kept.",
    )
