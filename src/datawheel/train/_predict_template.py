"""Predict with an exported datawheel model, using onnxruntime and numpy only.

Usage: python predict.py INPUT.jsonl|INPUT.json|- [--model model.int8.onnx]

INPUT holds rows as JSON objects (one per line, a JSON list, or {"rows": [...]}). An image or
audio field holds a file path (relative to INPUT's folder), base64 or a data: URI; null when
missing; decoding it needs Pillow (images) and soundfile (audio), resampling soxr when present
(else linear interpolation, close to but not exactly datawheel's). Prints one
JSON line per row: {"index", "label", "probabilities": {class: p}}, or {"index", "value",
"interval": [lo, hi]} for a regression. Tree and linear models read a design matrix built here
(category one-hot or codes, TF-IDF text exactly as scikit-learn's TfidfVectorizer). A value that
is not a number, or a number beyond +/-1e12 (it would overflow the model's float32 inputs),
stops it with one line on stderr and exit code 2 — never a NaN prediction.
"""

import argparse
import base64
import io
import json
import math
import re
import sys
import zlib
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent
NUMBER_LIMIT = 1e12  # what `datawheel serve` accepts too: beyond it float32 features overflow
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
_SPACES = re.compile(r"\s\s+")
CHUNK = 64  # rows per ONNX call for design models (their design rows are wide)


def _as_category(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _category_index(vocabulary):
    """Category -> index, a whole number also under its other spelling ("3" / "3.0")."""
    index: dict[str, int] = {}
    for i, value in enumerate(vocabulary):
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            for form in (str(int(number)), f"{int(number)}.0"):
                index.setdefault(form, i + 1)
    index.update({value: i + 1 for i, value in enumerate(vocabulary)})
    return index


def _fail(message):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _as_float(value, column, row):
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        _fail(f"row {row}, column {column!r}: numeric, but holds {value!r}")
    if math.isinf(number) or abs(number) > NUMBER_LIMIT:
        _fail(f"row {row}, column {column!r}: {value!r} is beyond +/-{NUMBER_LIMIT:g}")
    return number


def _ngrams(text, sizes):
    text = _SPACE.sub(" ", text.lower()).strip()
    units = [text[i : i + n] for n in sizes for i in range(len(text) - n + 1)]
    units.extend("w:" + word for word in _WORD.findall(text))
    return units


def _hashed_bag(texts, buckets, sizes):
    out = np.zeros((len(texts), buckets), dtype=np.float32)
    for row, value in enumerate(texts):
        if value is None:
            continue
        for unit in _ngrams(str(value), sizes):
            out[row, zlib.crc32(unit.encode("utf-8")) % buckets] += 1.0
    np.log1p(out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _limits(values, n, default):
    values = values if values is not None else [None] * n
    return np.array([default if v is None else float(v) for v in values], dtype=np.float64)


def transform(spec, rows):
    """Dict rows → (numeric float32 [n, d], categorical int64 [n, c]), as datawheel does:
    clip to the training fences, fill missing values, standardize, then the indicators."""
    n = len(rows)
    numeric_cols, mean, std = spec["numeric"], np.array(spec["mean"]), np.array(spec["std"])
    p = len(numeric_cols)
    indicators, flags = spec["missing_indicator"], spec.get("outlier_flags", {})
    texts, buckets = spec.get("text", []), int(spec.get("text_width", spec.get("text_buckets", 0)))
    width = p + len(indicators) + len(flags) + len(texts) * buckets
    numeric = np.zeros((n, width), dtype=np.float32)
    if numeric_cols:
        values = np.array(
            [[_as_float(row.get(c), c, i) for c in numeric_cols] for i, row in enumerate(rows)],
            dtype=np.float64,
        ).reshape(n, p)
        missing = ~np.isfinite(values)
        lower = _limits(spec.get("lower"), p, -np.inf)
        upper = _limits(spec.get("upper"), p, np.inf)
        fill = np.array(spec.get("fill", spec["mean"]), dtype=np.float64)
        values = np.where(missing, fill, np.clip(values, lower, upper))
        numeric[:, :p] = (values - mean) / std
        for j, name in enumerate(indicators):
            numeric[:, p + j] = missing[:, numeric_cols.index(name)]
        for j, (name, (low, high)) in enumerate(flags.items()):
            column = values[:, numeric_cols.index(name)]
            numeric[:, p + len(indicators) + j] = (column < low) | (column > high)
    offset = p + len(indicators) + len(flags)
    sizes = tuple(spec.get("char_ngrams", (1, 2, 3)))
    for j, name in enumerate(texts if buckets else []):
        block = _hashed_bag([row.get(name) for row in rows], buckets, sizes)
        numeric[:, offset + j * buckets : offset + (j + 1) * buckets] = block
    codes = []
    fills = spec.get("categorical_fill", {})
    for name in spec["categorical"]:
        index = _category_index(spec["vocabulary"][name])
        seen = [_as_category(row.get(name)) for row in rows]
        filled = [fills.get(name) if v is None else v for v in seen]
        codes.append([index.get(v, 0) for v in filled])
    categorical = np.array(codes, dtype=np.int64).T.reshape(n, len(codes))
    if not np.isfinite(numeric).all():  # a spec's scale could still overflow float32
        row = int(np.nonzero(~np.isfinite(numeric).all(axis=1))[0][0])
        _fail(f"row {row}: a numeric value overflows the model's inputs")
    return numeric, categorical


def _word_grams(text):
    tokens = _TOKEN.findall(text.lower())
    return tokens + [" ".join(tokens[i : i + 2]) for i in range(len(tokens) - 1)]


def _char_grams(text):
    grams = []
    for word in _SPACES.sub(" ", text.lower()).split():
        word = " " + word + " "
        for n in range(2, 6):
            offset = 0
            grams.append(word[offset : offset + n])
            while offset + n < len(word):
                offset += 1
                grams.append(word[offset : offset + n])
            if offset == 0:  # a word shorter than n: counted once
                break
    return grams


def _tfidf_part(texts, vocab, idf, grams):
    index = {g: i for i, g in enumerate(vocab)}
    out = np.zeros((len(texts), len(vocab)))
    for row, text in enumerate(texts):
        for gram in grams("" if text is None else str(text)):
            j = index.get(gram)
            if j is not None:
                out[row, j] += 1.0
    seen = out > 0
    np.log(out, out=out, where=seen)
    out[seen] += 1.0  # sublinear tf: 1 + log(count)
    out *= np.asarray(idf)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def design_matrix(spec, rows):
    """The tree / linear models' input: numerics, categories, then TF-IDF per text column."""
    numeric, categorical = transform(spec, rows)
    layout = spec["design"]
    parts = [numeric.astype(np.float64)]
    cards = layout["cardinalities"]
    if cards and layout["one_hot"]:
        onehot = np.zeros((len(rows), sum(cards)))
        offsets = np.cumsum([0, *cards[:-1]])
        for j, offset in enumerate(offsets):
            onehot[np.arange(len(rows)), offset + categorical[:, j]] = 1.0
        parts.append(onehot)
    elif cards:
        parts.append(categorical.astype(np.float64))
    for j, block in enumerate(layout["tfidf"]):
        column = [row.get(spec["text"][j]) for row in rows]
        parts.append(_tfidf_part(column, block["word_vocab"], block["word_idf"], _word_grams))
        parts.append(_tfidf_part(column, block["char_vocab"], block["char_idf"], _char_grams))
    return np.hstack(parts).astype(np.float32)


AUDIO_RATE = 16_000  # every clip is resampled to this rate, as in training


def _media_bytes(value, base, row, column):
    text = value.strip()
    if text.startswith("data:"):
        text = text.split(",", 1)[1] if "," in text else ""
    path = base / text if len(text) < 4096 else None
    if path is not None and path.is_file():
        return path.read_bytes()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        _fail(f"row {row}, column {column!r}: {value[:80]!r} is neither a file nor base64")


def _image(data, side, row, column):
    """As datawheel: EXIF orientation applied, alpha on white, RGB, scaled to fit ``side``
    pixels (aspect kept), centred on black; float32 [3, side, side] in [0, 1]."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        _fail("image columns need Pillow: pip install Pillow")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                canvas.alpha_composite(rgba)
                image = canvas
            image = image.convert("RGB")
    except Exception as exc:  # Pillow's errors for a bad file vary
        _fail(f"row {row}, column {column!r}: not a readable image ({exc})")
    scale = side / max(image.size)
    width, height = max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))
    resized = image.resize((width, height), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (side, side))
    canvas.paste(resized, ((side - width) // 2, (side - height) // 2))
    return np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _clip(data, samples, row, column):
    """Mono float32 at 16 kHz, the start kept, cut or zero-padded to ``samples``."""
    try:
        import soundfile
    except ImportError:
        _fail("audio columns need soundfile: pip install soundfile")
    try:
        wave, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors for a bad file vary
        _fail(f"row {row}, column {column!r}: not a readable clip ({exc})")
    mono = wave.mean(axis=1)
    if rate != AUDIO_RATE:
        try:
            import soxr

            mono = soxr.resample(mono, rate, AUDIO_RATE)
        except ImportError:
            n = round(len(mono) * AUDIO_RATE / rate)
            mono = np.interp(np.arange(n) * rate / AUDIO_RATE, np.arange(len(mono)), mono)
    out = np.zeros(samples, dtype=np.float32)
    take = min(samples, len(mono))
    out[:take] = np.clip(mono[:take], -1.0, 1.0)
    return out


def media_feeds(spec, rows, base):
    """The fusion model's ONNX inputs: per image, then per audio column, the data and a
    present mask (a null field is absent: the model's missing embedding stands in)."""
    feeds = {}
    columns = [*spec.get("images", []), *spec.get("audio", [])]
    side, samples = int(spec.get("image_size", 32)), int(spec.get("audio_samples", 32000))
    for j, column in enumerate(columns):
        is_image = column in spec.get("images", [])
        shape = (len(rows), 3, side, side) if is_image else (len(rows), samples)
        data, present = np.zeros(shape, dtype=np.float32), np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            value = row.get(column)
            if value is None:
                continue
            raw = _media_bytes(str(value), base, i, column)
            data[i] = _image(raw, side, i, column) if is_image else _clip(raw, samples, i, column)
            present[i] = True
        feeds[f"media_{j}"], feeds[f"media_{j}_present"] = data, present
    return feeds


def read_rows(path):
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped):
        data = json.loads(text)
        return data["rows"] if isinstance(data, dict) and "rows" in data else list(data)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def predict_proba(rows, spec, session, base=Path(".")):
    """Probabilities [n, K], or values [n, 1] for a regression; media paths under ``base``."""
    if "design" in spec:
        outs = []
        for start in range(0, len(rows), CHUNK):
            design = design_matrix(spec, rows[start : start + CHUNK])
            result = session.run(None, {"design": design})
            outs.append(np.asarray(result[-1], dtype=np.float64).reshape(len(design), -1))
        return np.vstack(outs) if outs else np.zeros((0, max(len(spec["classes"]), 1)))
    numeric, categorical = transform(spec, rows)
    feeds = {"numeric": numeric, "categorical": categorical, **media_feeds(spec, rows, base)}
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {name: feeds[name] for name in names})[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="rows as JSONL, a JSON list, or - for stdin")
    parser.add_argument("--model", help="ONNX file in this folder (default: the spec's)")
    parser.add_argument("--revocations", help="a signed revocation list from the licensor")
    args = parser.parse_args()
    licensed = (HERE / "license.json").is_file()
    if licensed:  # a licensed bundle: check it before anything is loaded
        import license_check

        try:
            terms = license_check.check(HERE, feature="predict", revocations=args.revocations)
        except license_check.LicenseError as exc:
            raise SystemExit(f"license: {exc}") from None
    spec = json.loads((HERE / "preprocessing.json").read_text(encoding="utf-8"))
    model = HERE / (args.model or spec["onnx_model"])
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the tree converter's label output warns on every call
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    rows = read_rows(args.input)
    if licensed:
        try:
            license_check.charge_rows(HERE, terms, len(rows))
        except license_check.LicenseError as exc:
            raise SystemExit(f"license: {exc}") from None
    base = Path(args.input).resolve().parent if args.input != "-" else Path.cwd()
    proba = predict_proba(rows, spec, session, base)
    classes = spec["classes"]
    if not classes:  # a regression: the value and its prediction interval
        half = spec.get("interval_halfwidth")
        for i, (value,) in enumerate(proba.tolist()):
            interval = None if half is None else [value - half, value + half]
            print(json.dumps({"index": i, "value": value, "interval": interval}))
        return
    for i, p in enumerate(proba):
        label = classes[int(np.argmax(p))]
        scores = {c: float(v) for c, v in zip(classes, p, strict=True)}
        print(json.dumps({"index": i, "label": label, "probabilities": scores}))


if __name__ == "__main__":
    main()
