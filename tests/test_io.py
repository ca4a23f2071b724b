"""Reading and writing tables by extension, with real files in tmp_path."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from datawheel.errors import DataError
from datawheel.io import (
    SUPPORTED_EXTENSIONS,
    fingerprint,
    frame_from_parquet_bytes,
    frame_to_parquet_bytes,
    read_table,
    read_table_with_report,
    scan_table,
    write_table,
)

FRAME = pl.DataFrame(
    {
        "id": [3, 1, 2, 5, 4],  # not sorted: row order must survive
        "name": ["Zoë", "a, b", None, 'say "hi"', "line\nbreak"],
        "score": [1.5, None, -2.25, 0.0, 1e10],
        "ok": [True, False, None, True, False],
    }
)

# A quoted field holding a comma and a newline (lines 2-3) is one record, not malformed;
# line 4 has an extra field.
MALFORMED_CSV = 'a,b,c\n1,"x, y\nstill x",3\n4,5,6,7\n8,9,10\n'


@pytest.mark.parametrize(
    "name",
    [
        "t.csv",  # plain CSV
        "t.csv.gz",  # gzip CSV
        "t.parquet",  # plain Parquet
        "t.parquet.gz",  # gzip Parquet
        "t.jsonl",  # plain JSON lines
        "t.jsonl.gz",  # gzip JSON lines
        "t.ndjson",  # the other JSON-lines extension
        "nested/dir/t.CSV",  # parent folders created; extension case ignored
    ],
)
def test_write_read_when_round_trip_then_rows_and_order_kept(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_table(FRAME, path)
    back = read_table(path)
    assert back.columns == FRAME.columns
    assert back.to_dicts() == FRAME.to_dicts()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # atomic: no leftovers


def test_write_table_when_gz_then_really_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    write_table(FRAME, path)
    assert gzip.decompress(path.read_bytes()).startswith(b"id,name,score,ok\n")


def test_read_table_when_quoted_comma_and_newline_then_one_field(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"x, y\nz"\n2,w\n')
    assert read_table(path)["b"].to_list() == ["x, y\nz", "w"]


@pytest.mark.parametrize(
    ("text", "line", "found"),
    [
        (MALFORMED_CSV, 4, 4),  # extra field after a multi-line quoted field: physical line 4
        ("a,b\n1,2\n3\n4,5\n", 3, 1),  # a short line (polars would pad it with null)
        ("a,b\r\n1,2\r\n3,4,5\r\n", 3, 3),  # Windows line endings
    ],
)
def test_read_table_when_wrong_field_count_then_error_names_line(
    tmp_path: Path, text: str, line: int, found: int
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode())
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value)
    assert f"line {line} has {found} fields, expected" in message
    assert f"bad.csv:{line}" in message
    assert "--on-bad-lines skip" in message


def test_read_table_when_skip_mode_then_bad_line_counted_and_written(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(MALFORMED_CSV.encode()))
    bad_path = tmp_path / "out" / "bad-lines.csv"
    frame, report = read_table_with_report(path, on_bad_lines="skip", bad_lines_path=bad_path)
    assert frame.to_dicts() == [{"a": 1, "b": "x, y\nstill x", "c": 3}, {"a": 8, "b": "9", "c": 10}]
    assert (report.rows, report.bad_lines, report.bad_line_numbers) == (2, 1, (4,))
    assert report.bad_lines_path == bad_path
    assert bad_path.read_text() == "4,5,6,7\n"


def test_read_table_when_skip_mode_without_path_then_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(MALFORMED_CSV)
    _, report = read_table_with_report(path, on_bad_lines="skip")
    assert report.bad_lines == 1 and report.bad_lines_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_read_table_when_latin1_read_as_utf8_then_error_names_what_decodes_and_auto_reads_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("city,n\nParis,1\nCréteil,2\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_table(path, encoding="utf-8")
    message = str(info.value)
    assert "utf-8" in message and "byte offset 17" in message and "line 3" in message
    assert "--encoding cp1252" in message  # the encoding that decodes it, named in the hint
    assert read_table(path, encoding="latin-1")["city"].to_list() == ["Paris", "Créteil"]
    assert read_table(path)["city"].to_list() == ["Paris", "Créteil"]  # auto: detected


def test_read_table_when_utf8_bom_then_header_clean(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert read_table(path).columns == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty"),  # zero bytes
        ("blank.csv", b"\n  \n", "empty"),  # whitespace only: no header
        ("empty.jsonl", b"", "empty"),  # zero-byte JSON lines
        ("empty.csv.gz", gzip.compress(b"", mtime=0), "empty"),  # compressed nothing
        ("data.txt", b"a\n1\n", ".csv, .parquet, .jsonl"),  # unknown extension lists supported
        ("data", b"a\n1\n", "unsupported file extension"),  # no extension at all
        ("fake.csv.gz", b"a,b\n1,2\n", "not a valid gzip"),  # .gz that is not gzip
        ("fake.parquet", b"not parquet", "not a valid Parquet"),  # corrupt Parquet
        ("dup.csv", b"a,a\n1,2\n", "duplicate column name 'a'"),  # header names twice
    ],
)
def test_read_table_when_bad_file_then_data_error(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        read_table(path)


def test_read_table_when_missing_file_then_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_read_table_when_header_only_then_empty_frame(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    frame = read_table(path)
    assert frame.columns == ["a", "b"] and frame.height == 0


def test_read_table_when_blank_lines_then_skipped(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("a,b\n1,2\n\n3,4\n")
    assert read_table(path)["a"].to_list() == [1, 3]


def test_read_table_when_late_type_change_then_column_widened(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("a\n" + "1\n" * 10_050 + "x\n")  # beyond the fast path's inference window
    column = read_table(path)["a"]
    assert column.dtype == pl.String and column[-1] == "x" and column.len() == 10_051


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('{"a": 1}\n{"a": 2\n{"a": 3}\n', 2),  # unterminated object
        ('{"a": 1}\n\n{"a": 2}\n[1, 2]\n', 4),  # not an object; the blank line still counts
    ],
)
def test_read_table_when_broken_jsonl_line_then_line_number(
    tmp_path: Path, content: str, line: int
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=f"line {line} ") as info:
        read_table(path)
    assert f"x.jsonl:{line}:" in str(info.value)


def test_read_table_when_broken_jsonl_and_skip_then_kept_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    frame, report = read_table_with_report(
        path, on_bad_lines="skip", bad_lines_path=tmp_path / "bad.jsonl"
    )
    assert frame["a"].to_list() == [1, 3]
    assert report.bad_line_numbers == (2,)
    assert (tmp_path / "bad.jsonl").read_text() == '{"a": 2\n'


def test_parquet_bytes_when_round_trip_then_equal() -> None:
    assert frame_from_parquet_bytes(frame_to_parquet_bytes(FRAME)).equals(FRAME)


def test_fingerprint_when_same_content_then_same_hash_regardless_of_chunks() -> None:
    chunked = pl.concat([FRAME[:2], FRAME[2:]], rechunk=False)
    assert chunked.n_chunks() > 1
    assert fingerprint(FRAME) == fingerprint(chunked) == fingerprint(FRAME.clone())
    assert len(fingerprint(FRAME)) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.reverse(),  # row order matters
        lambda f: f.rename({"id": "ID"}),  # column names matter
        lambda f: f.with_columns(pl.col("id").cast(pl.Int32)),  # dtypes matter
        lambda f: f.head(4),  # a dropped row matters
    ],
)
def test_fingerprint_when_content_changes_then_hash_changes(change) -> None:
    assert fingerprint(change(FRAME)) != fingerprint(FRAME)


@pytest.mark.parametrize("name", ["s.csv", "s.parquet", "s.jsonl"])
def test_scan_table_when_plain_file_then_lazy_frame_matches(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_table(FRAME.drop("name"), path)
    assert scan_table(path).collect().equals(read_table(path))


def test_scan_table_when_gzip_then_data_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv.gz"
    write_table(FRAME, path)
    with pytest.raises(DataError, match="gzip"):
        scan_table(path)


def test_supported_extensions_when_listed_then_include_gz_variants() -> None:
    assert {".csv", ".parquet", ".jsonl", ".ndjson", ".csv.gz"} <= set(SUPPORTED_EXTENSIONS)


# --- encodings and code columns ----------------------------------------------------------------


def _customers() -> pl.DataFrame:
    from i18n._tables import customer_table

    return customer_table(150)


@pytest.mark.parametrize(
    ("written", "logged"),
    [
        ("utf-8", None),  # the default: nothing to say
        ("utf-8-sig", None),  # Excel's "CSV UTF-8": the mark is not part of the first header
        ("gbk", "GB18030 (GBK)"),  # Excel's "CSV" on Chinese Windows
        ("gb18030", "GB18030 (GBK)"),
        ("utf-16", "UTF-16"),  # Excel's "Unicode text"
    ],
)
def test_read_table_when_chinese_csv_in_any_encoding_then_same_frame_and_choice_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, written: str, logged: str | None
) -> None:
    frame = _customers()
    path = tmp_path / "客户.csv"
    path.write_bytes(frame.write_csv().encode(written))
    with caplog.at_level("INFO", logger="datawheel.io"):
        back, report = read_table_with_report(path)
    assert back.to_dicts() == frame.to_dicts()  # codes stay text: 0 and X kept, no int phones
    assert back.schema == frame.schema
    notes = [r.getMessage() for r in caplog.records if r.name == "datawheel.io"]
    if logged is None:
        assert notes == [] and report.encoding in ("utf-8", "utf-8-sig")
    else:  # one line says which encoding was chosen
        assert len(notes) == 1 and notes[0].startswith(f"{path}: read as {logged}")


def test_read_table_when_big5_gz_then_detected_through_gzip(tmp_path: Path) -> None:
    from i18n._tables import taiwan_table

    frame = taiwan_table(80)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(frame.write_csv().encode("big5")))
    back, report = read_table_with_report(path)
    assert back.to_dicts() == frame.to_dicts() and report.encoding == "cp950"


def test_read_table_when_gbk_read_as_utf8_then_error_suggests_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(_customers().write_csv().encode("gbk"))
    with pytest.raises(DataError) as info:
        read_table(path, encoding="utf-8")
    message = str(info.value)
    assert "not valid utf-8" in message and ":1:1:" in message  # the header's first byte
    assert "it decodes as gb18030" in message and "--encoding gb18030" in message
    assert "latin-1" not in message  # never suggest what would garble Chinese


@pytest.mark.parametrize(
    ("column", "values", "kept_as_text"),
    [
        ("身份证号", ["11010519491231002X", "110105194912310021"], True),  # X check digit
        ("邮编", ["010010", "518000"], True),  # a leading zero
        ("手机号", ["13800138000", "15912345678"], True),  # mainland mobile numbers
        ("银行卡号", ["6222021234567890123", "6222021234567890456"], True),  # 19 digits
        ("zip", ["94103", "10001"], True),  # a code by its name and one width
        ("id", ["1", "2"], False),  # a counting id stays a number
        ("年龄", ["31", "45"], False),  # a quantity stays a number
        ("金额", ["12.50", "8"], False),
    ],
)
def test_read_table_when_column_holds_codes_then_text_else_numbers(
    tmp_path: Path, column: str, values: list[str], kept_as_text: bool
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(f"{column},n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values)))
    back = read_table(path)
    assert (back[column].dtype == pl.String) is kept_as_text
    if kept_as_text:
        assert back[column].to_list() == values


def test_read_table_when_dtypes_declared_then_cast_and_bad_value_named(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "工号,年龄,是否流失,入职日期\n00123,31,是,2024年1月31日\n00456,45,否,2023-05-02\n"
    )
    dtypes = {"工号": "string", "年龄": "float", "是否流失": "bool", "入职日期": "date"}
    back = read_table(path, dtypes=dtypes)
    assert back["工号"].to_list() == ["00123", "00456"]
    assert back["年龄"].dtype == pl.Float64 and back["是否流失"].to_list() == [True, False]
    assert [str(d) for d in back["入职日期"].to_list()] == ["2024-01-31", "2023-05-02"]
    path.write_text("工号,年龄\n1,31\n2,三十\n")
    with pytest.raises(DataError) as info:
        read_table(path, dtypes={"年龄": "int"})
    message = str(info.value)
    assert "'年龄' is declared int" in message and "row 2" in message and "'三十'" in message
    assert read_table(path, dtypes={"年纪": "int"}).columns == ["工号", "年龄"]  # absent: no-op
