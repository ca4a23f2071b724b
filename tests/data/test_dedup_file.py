"""Tests for datawheel.data.dedup_file: any format, English and Chinese, equal to in-memory."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from datawheel.data.dedup import dedup
from datawheel.data.dedup_file import dedup_file
from datawheel.errors import DataError
from datawheel.io import read_table, write_table

_EN = [f"w{i}" for i in range(2000)]
_ZH = "的一是不了人我在有他这为之大来以个中上们到说时地也子就而要出会可年生自那下能对着事天气很好"


def _corpus(n: int, chinese: bool) -> pl.DataFrame:
    """Documents, a fifth of them near copies (one token changed) or case/space variants."""
    rng = random.Random(3)
    docs: list[str] = []
    for _ in range(n):
        if docs and rng.random() < 0.2:
            base = docs[rng.randrange(len(docs))]
            if rng.random() < 0.3:
                docs.append("  " + base.upper() + " ")  # an exact duplicate once normalized
                continue
            tokens = list(base) if chinese else base.split()
            tokens[rng.randrange(len(tokens))] = rng.choice(_ZH if chinese else _EN)
            docs.append(("" if chinese else " ").join(tokens))
        elif chinese:
            docs.append("".join(rng.choice(_ZH) for _ in range(120)))
        else:
            docs.append(" ".join(rng.choice(_EN) for _ in range(80)))
    return pl.DataFrame({"id": list(range(n)), "text": docs})


@pytest.mark.parametrize(
    ("name", "chinese"),
    [
        ("docs.jsonl", False),  # English JSON lines
        ("docs.csv.gz", False),  # gzip CSV
        ("docs.parquet", True),  # Chinese (character shingles), Parquet
        ("docs.jsonl.gz", True),  # Chinese, gzip JSON lines
    ],
)
def test_dedup_file_when_batches_of_500_then_equals_in_memory_dedup(
    tmp_path: Path, name: str, chinese: bool
) -> None:
    frame = _corpus(3_000, chinese)
    write_table(frame, tmp_path / name)
    kept, clusters = dedup(frame, text="text", threshold=0.8)
    result = dedup_file(
        tmp_path / name,
        tmp_path / ("out-" + name),
        text="text",
        clusters=tmp_path / "c.jsonl",
        batch_rows=500,
    )
    assert_frame_equal(read_table(tmp_path / ("out-" + name)), kept)
    lines = (tmp_path / "c.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines[:2]] == [
        {"index": 0, "cluster": clusters[0]},
        {"index": 1, "cluster": clusters[1]},
    ]
    assert [json.loads(x)["cluster"] for x in lines] == clusters
    s = result.stats
    assert s.exact_duplicates > 0 and s.near_duplicates > 0
    assert s.rows_in - s.exact_duplicates - s.near_duplicates == s.kept == kept.height


def test_dedup_file_when_exact_only_then_near_copies_kept(tmp_path: Path) -> None:
    write_table(_corpus(1_000, False), tmp_path / "d.csv")
    result = dedup_file(tmp_path / "d.csv", tmp_path / "o.csv", text="text", exact_only=True)
    assert result.stats.near_duplicates == 0 and result.stats.exact_duplicates > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "body"}, "available columns: id, text"),  # unknown column: lists them
        ({"text": "id"}, "must hold text"),  # a number column
        ({"text": "text", "clusters": "c.json"}, ".jsonl"),  # clusters must be JSON lines
    ],
)
def test_dedup_file_when_bad_arguments_then_data_error(
    tmp_path: Path, kwargs: dict, message: str
) -> None:
    write_table(_corpus(20, False), tmp_path / "d.csv")
    with pytest.raises(DataError) as info:
        dedup_file(tmp_path / "d.csv", tmp_path / "o.csv", **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "o.csv").exists()
