"""Tests for datawheel.data.stream: batches equal the whole-file read; bad input is named."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from datawheel.data.stream import TableReader, TableWriter
from datawheel.errors import DataError
from datawheel.io import read_table, write_table

FRAME = pl.DataFrame(
    {
        "id": list(range(2_500)),
        "score": [i / 7 if i % 11 else None for i in range(2_500)],
        "flag": [i % 3 == 0 for i in range(2_500)],
        "text": [f"row {i}, a comma" if i % 5 else f"多行\n文本 {i}" for i in range(2_500)],
    }
)


@pytest.mark.parametrize(
    "name",
    [
        "t.csv",  # quoted commas and newlines cut only between records
        "t.csv.gz",  # streamed through a gzip decompressor
        "t.jsonl",
        "t.jsonl.gz",
        "t.parquet",
        "t.parquet.gz",  # decompressed to a temporary file first (Parquet needs its footer)
    ],
)
def test_reader_when_small_batches_then_concatenation_equals_read_table(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    write_table(FRAME, path)
    with TableReader(path, batch_rows=300) as reader:
        batches = list(reader.batches())
        with TableWriter(tmp_path / ("out-" + name)) as writer:
            for batch in batches:
                writer.write(batch)
    assert len(batches) >= 8
    assert_frame_equal(pl.concat(batches), read_table(path))
    assert_frame_equal(read_table(tmp_path / ("out-" + name)), read_table(path))
    assert reader.stats.rows == FRAME.height


def test_reader_when_type_changes_late_then_whole_column_widened(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(50)) + "x,1.5\n")
    with TableReader(path, batch_rows=10) as reader:
        frame = pl.concat(reader.batches())
    assert frame.schema == {"a": pl.String, "b": pl.Float64}
    assert_frame_equal(frame, read_table(path))


def test_reader_when_bad_line_in_late_batch_then_error_names_file_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n" + "1,2\n" * 40 + "1,2,3\n" + "1,2\n" * 5)
    with TableReader(path, batch_rows=7) as reader, pytest.raises(DataError) as info:
        list(reader.batches())
    assert "line 42" in str(info.value)


def test_reader_when_skip_then_bad_lines_counted_and_copied(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n1,2,3\n3,4\noops\n5,6\n"))
    side = tmp_path / "side.csv"
    reader = TableReader(path, batch_rows=2, on_bad_lines="skip", bad_lines_path=side)
    frame = pl.concat(list(reader.batches()))
    assert frame["a"].to_list() == [1, 3, 5]
    assert (reader.stats.bad_lines, reader.stats.bad_line_numbers) == (2, [3, 5])
    assert side.read_text() == "1,2,3\noops\n"


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (b"", {}, "empty"),  # zero bytes
        # not UTF-8 as told: the hint names the encoding that decodes it
        ("name,x\nÄ,1\n".encode("latin-1"), {"encoding": "utf-8"}, "--encoding cp1252"),
        (b"a,x\n\x81\x81\x81\x81,1\n", {}, "cannot tell the text encoding"),  # auto: no text
        (b"\x1f\x8b\x08garbage", {"gz": True}, "gzip"),  # a broken gzip stream
    ],
)
def test_reader_when_bad_file_then_data_error(
    tmp_path: Path, content: bytes, kwargs: dict, message: str
) -> None:
    path = tmp_path / ("f.csv.gz" if kwargs.pop("gz", False) else "f.csv")
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        list(TableReader(path, **kwargs).batches())
    assert message in str(info.value)


def test_reader_when_latin1_encoding_given_then_read(tmp_path: Path) -> None:
    path = tmp_path / "l1.csv"
    path.write_bytes("name,n\nJosé,1\nZoë,2\n".encode("latin-1"))
    frame = pl.concat(TableReader(path, encoding="latin-1", batch_rows=1).batches())
    assert frame["name"].to_list() == ["José", "Zoë"]


def test_reader_when_header_only_then_one_empty_batch(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    batches = list(TableReader(path).batches())
    assert len(batches) == 1 and batches[0].columns == ["a", "b"] and batches[0].height == 0


def test_writer_when_error_inside_then_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "o.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), TableWriter(target) as writer:
        writer.write(FRAME.head(3))
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    "written",
    [
        "gbk",  # cut into blocks at newline bytes, each decoded on its own
        "big5",
        "utf-16",  # wide: transcoded to UTF-8 once, then streamed
        "utf-8-sig",
    ],
)
def test_reader_when_chinese_file_in_any_encoding_then_batches_equal_read_table(
    tmp_path: Path, written: str
) -> None:
    from i18n._tables import customer_table, taiwan_table

    frame = taiwan_table(300) if written == "big5" else customer_table(300)
    path = tmp_path / "客户.csv.gz"
    path.write_bytes(gzip.compress(frame.write_csv().encode(written)))
    with TableReader(path, batch_rows=40) as reader:
        batches = list(reader.batches())
    assert len(batches) >= 7
    assert pl.concat(batches).to_dicts() == frame.to_dicts()  # 身份证号 with X, 邮编 with 0: text
    assert_frame_equal(pl.concat(batches), read_table(path))


def test_reader_when_codes_only_in_a_late_batch_then_column_is_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    ids = [f"11010519491231{i:04d}" for i in range(60)] + ["11010519491231002X"]
    path.write_text("身份证号,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(ids)))
    with TableReader(path, batch_rows=10) as reader:
        frame = pl.concat(reader.batches())
    assert frame.schema["身份证号"] == pl.String and frame["身份证号"].to_list() == ids


def test_reader_when_dtypes_declared_then_cast_per_batch_and_bad_row_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("工号,年龄\n" + "".join(f"{i:05d},{20 + i}\n" for i in range(30)) + "x,三十\n")
    with TableReader(path, batch_rows=7, dtypes={"年龄": "int"}) as reader:
        assert reader.schema["年龄"] == pl.Int64 and reader.schema["工号"] == pl.String
        with pytest.raises(DataError) as info:
            list(reader.batches())
    assert "row 31" in str(info.value) and "'三十'" in str(info.value)


@pytest.mark.parametrize(
    ("cache_bytes", "parsed_once"),
    [
        (1 << 30, True),  # small next to the budget: later passes replay the parsed batches
        (1_000, False),  # over the budget: every pass reads the file (memory stays bounded)
        (0, False),  # caching off
    ],
)
def test_reader_when_file_fits_the_parse_cache_then_later_passes_need_no_file(
    tmp_path: Path, cache_bytes: int, parsed_once: bool
) -> None:
    path = tmp_path / "t.jsonl"
    write_table(FRAME, path)
    with TableReader(path, batch_rows=300, cache_bytes=cache_bytes) as reader:
        first = pl.concat(reader.batches())  # the schema pass, then this typed pass
        path.unlink()
        if parsed_once:
            assert_frame_equal(pl.concat(reader.batches()), first)
            assert reader.gather("text", np.array([1, 2_001])).to_list() == [
                "row 1, a comma",
                "row 2001, a comma",
            ]
        else:
            with pytest.raises((DataError, OSError)):
                pl.concat(reader.batches())
