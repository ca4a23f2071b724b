"""Images and audio in requests: ``multipart/form-data`` bodies turned into the JSON shape, and
the media fields of validated rows decoded before they are batched.

A multipart body carries the rows as a ``rows`` part (JSON: ``[{...}]`` or ``{"rows": [...]}``)
and/or one part per field: ``photo`` (row 0) or ``rows.2.photo`` / ``rows[2].photo`` (row 2).
A file part's bytes are the field's value; a plain part's text is a string, or a number when
the model reads that field as one. Media are decoded per request, on a worker thread, before
the micro-batcher sees them: an undecodable value fails only its own request (422, ``field``
``rows.i.column``), an over-size one 413 — never 500.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from datawheel.errors import UsageError
from datawheel.serve.http_errors import MalformedBody, PayloadTooLarge

__all__ = ["decode_media", "is_multipart", "media_digest", "parse_multipart"]

_FIELD = re.compile(r"^rows(?:\.(\d+)\.|\[(\d+)\]\.)(.+)$")
MAX_PARTS = 10_000  # parts in one body: more is not a request but an attack


def is_multipart(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == (  # type: ignore[union-attr]
        "multipart/form-data"
    )


def parse_multipart(body: bytes, content_type: str, schema: Mapping[str, str]) -> dict[str, Any]:
    """A ``multipart/form-data`` body → ``{"rows": [...]}`` (see the module docstring)."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type.encode("latin-1"))
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedBody("a multipart/form-data body needs a boundary in its Content-Type")
    parts: list[dict[str, Any]] = []
    header: dict[str, bytes] = {"field": b"", "value": b""}

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise MalformedBody(f"more than {MAX_PARTS} parts in one body")
        parts.append({"headers": {}, "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        parts[-1]["headers"][header["field"].decode("latin-1").lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"] += data[start:end]

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_part_data": on_part_data,
    })  # fmt: skip
    try:
        parser.write(body)
        parser.finalize()
    except MalformedBody:
        raise
    except Exception as exc:  # python-multipart's parse errors
        raise MalformedBody(f"the multipart body does not parse: {exc}") from None
    return _rows_from_parts(parts, schema)


def _rows_from_parts(parts: list[dict[str, Any]], schema: Mapping[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    fields: list[tuple[int, str, Any]] = []
    for part in parts:
        disposition = part["headers"].get("content-disposition", b"")
        _, params = _disposition(disposition)
        name = params.get("name")
        if name is None:
            raise MalformedBody("a multipart part has no name in its Content-Disposition")
        data = bytes(part["data"])
        if name == "rows":
            rows = _rows_part(data)
            continue
        match = _FIELD.match(name)
        index, column = (
            (int(match.group(1) or match.group(2)), match.group(3)) if match else (0, name)
        )
        fields.append((index, column, data if "filename" in params else _text(data, name)))
    for index, column, value in fields:
        if index > len(rows):
            raise UsageError(
                f"rows.{index}.{column} is past the last row",
                where=f"rows.{index}.{column}",
                hint="number rows from 0 without gaps",
            )
        if index == len(rows):
            rows.append({})
        kind = schema.get(column)
        if kind == "number" and isinstance(value, str):
            value = _number(value, f"rows.{index}.{column}")
        rows[index][column] = value
    return {"rows": rows}


def _disposition(value: bytes) -> tuple[bytes, dict[str, str]]:
    from python_multipart.multipart import parse_options_header

    kind, params = parse_options_header(value)
    return kind, {k.decode("latin-1"): v.decode("utf-8", "replace") for k, v in params.items()}


def _rows_part(data: bytes) -> list[dict[str, Any]]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MalformedBody("the multipart part 'rows' is not valid JSON") from None
    if isinstance(parsed, dict) and "rows" in parsed:
        parsed = parsed["rows"]
    if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
        raise UsageError("the part 'rows' must be a JSON list of objects", where="rows")
    return parsed


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("a form field is not UTF-8 text", where=name,
                         hint="send files as file parts (with a filename)") from None  # fmt: skip


def _number(text: str, where: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError("must be a number", where=where) from None
    if not math.isfinite(value):
        raise UsageError("must be a finite number", where=where)
    return value


def media_digest(data: bytes) -> dict[str, Any]:
    """What the prediction log keeps of a served image or clip: the SHA-256 and size of its
    bytes (however they were sent), never the content — a photo or a voice is personal data;
    the hash still links feedback to the file."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def decode_media(
    rows: list[dict[str, Any]], spec: Any, *, max_bytes: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Decode the media fields of validated rows: (rows with decoded arrays, the same rows as
    logged — media replaced by ``media_digest``). A null field stays null (the model uses its
    missing embedding). Over ``max_bytes`` or over the pixel limit → 413; anything else that
    does not decode → 422 naming ``rows.i.column``."""
    from datawheel.data.media.decode import MediaError

    decoded, logged = [], []
    for i, row in enumerate(rows):
        out, log = dict(row), dict(row)
        for column in spec.columns:
            value = row.get(column)
            if value is None:
                continue
            where = f"rows.{i}.{column}"
            try:
                data = _raw(value, max_bytes)
                out[column] = spec.load(column, data, base_dir=None, max_bytes=max_bytes)
            except MediaError as exc:
                if exc.reason == "too_large":
                    raise PayloadTooLarge(exc.detail, hint=exc.hint, where=where) from None
                raise MediaError(exc.reason, exc.detail, where=where) from None
            log[column] = media_digest(data)
        decoded.append(out)
        logged.append(log)
    return decoded, logged


def _raw(value: Any, max_bytes: int) -> bytes:
    """A request's field as bytes: an upload's own, or base64 / a data: URI decoded. Decoded
    images and clips are left unfitted (``MediaSpec.load``): the model that serves the batch,
    maybe a newer one, fits them to its own shape."""
    from datawheel.data.media.decode import MediaError, media_bytes

    if not isinstance(value, bytes | str):
        raise MediaError("unsupported", f"a {type(value).__name__}; send base64 text or a file")
    # base_dir=None: a request's text is never read as a path on this machine
    return media_bytes(value, None, max_bytes=max_bytes)
