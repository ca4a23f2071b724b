"""Small generated tables for the Ray engine tests: a few hundred rows each, so a test runs in
seconds on a two-node cluster of one CPU per node, yet every rule has cases to hit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def documents(n: int = 240, seed: int = 7) -> pl.DataFrame:
    """Documents of 40 words; a third are edited copies (1-6 words changed) of earlier ones,
    some exact copies with other spacing and case, some empty or missing."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(3000)]
    docs: list[str | None] = []
    for i in range(n):
        if i > 10 and i % 3 == 0:
            words = (docs[int(rng.integers(0, i))] or "alpha beta").split()
            for _ in range(int(rng.integers(1, 7))):
                words[int(rng.integers(0, len(words)))] = vocab[int(rng.integers(0, 3000))]
            docs.append(" ".join(words))
        elif i > 10 and i % 17 == 0:
            docs.append("  " + (docs[i - 5] or "").upper() + " ")
        elif i % 50 == 0:
            docs.append(None if i % 100 == 0 else "")
        else:
            docs.append(" ".join(rng.choice(vocab, 40)))
    return pl.DataFrame({"id": list(range(n)), "text": docs})


def records(n: int = 300, seed: int = 3) -> pl.DataFrame:
    """People-like rows for cleaning: numeric columns with nulls and a long tail, a
    categorical with nulls, a text with near copies, 20 exact copies (under other ids)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(500)]
    texts = [" ".join(rng.choice(words, 30)) for _ in range(n)]
    for i in range(14, n, 7):
        texts[i] = texts[i - 5].replace("w1 ", "w2 ", 1)
    age = rng.integers(18, 90, n).astype(float)
    age[rng.random(n) < 0.1] = np.nan
    income = rng.lognormal(10, 1, n)
    frame = pl.DataFrame(
        {
            "id": [f"P{i:04d}" for i in range(n)],
            "age": age,
            "hours": rng.integers(1, 80, n),
            "income": income,
            "city": rng.choice(["paris", "rome", "oslo", ""], n).tolist(),
            "note": texts,
            "label": rng.choice(["yes", "no"], n).tolist(),
        }
    ).with_columns(
        pl.col("age").fill_nan(None),
        pl.when(pl.col("city") == "").then(None).otherwise(pl.col("city")).alias("city"),
        pl.when(pl.col("hours") % 13 == 0).then(None).otherwise(pl.col("income")).alias("income"),
    )
    copies = frame.slice(3, 20).with_columns(pl.format("Q{}", pl.col("id")).alias("id"))
    return pl.concat([frame, copies])


NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "张伟", "李娜"]


def people(n: int = 200) -> pl.DataFrame:
    """Rows with a subject id, names, e-mails and free text holding PII (English and Chinese)."""
    rows = []
    for i in range(n):
        name = NAMES[i % len(NAMES)]
        message = (
            f"Hi, I am {name}, mail me at user{i}@example.org or call 555-010-{i:04d}. "
            "Card 4111 1111 1111 1111"
            if i % 3
            else "no personal data here"
        )
        rows.append(
            {
                "person_id": f"P{i:05d}",
                "name": name,
                "email": f"user{i % 40}@example.com",
                "message": message,
                "age": 18 + i % 60,
            }
        )
    return pl.DataFrame(rows)


def write_parts(frame: pl.DataFrame, folder: Path, parts: int = 3, group_rows: int = 50) -> Path:
    """``frame`` as ``parts`` Parquet files (row groups of ``group_rows``), in name order."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-frame.height // parts)
    for k in range(parts):
        frame.slice(k * size, size).write_parquet(
            folder / f"p{k}.parquet", row_group_size=group_rows
        )
    return folder


def read_parts(folder: Path) -> pl.DataFrame:
    """A folder the Ray engine wrote, read back in part-name order."""
    names = sorted(p for p in folder.glob("*.parquet"))
    return pl.concat([pl.read_parquet(p) for p in names])
