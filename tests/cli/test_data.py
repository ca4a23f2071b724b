"""`datawheel clean` and `datawheel dedup` on real files: outputs, counts, bad input → exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer

from datawheel.cli.main import app
from datawheel.io import read_table, write_table
from in_process import run_main

INCOME = Path(__file__).resolve().parents[2] / "src/datawheel/examples/income"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_main(*args, cwd=cwd)


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )


@pytest.mark.parametrize("name", ["clean", "dedup"])
def test_data_commands_when_help_then_ends_with_an_example(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert (command.help or "").strip().splitlines()[-1].startswith("Example: datawheel ")


def test_clean_when_project_file_then_output_report_and_counts(tmp_path: Path) -> None:
    result = _run(
        "clean",
        str(INCOME / "data/adult.csv.gz"),
        "-o",
        "clean.parquet",
        "-c",
        str(INCOME / "datawheel.yaml"),
        "--report",
        "q.html",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "rows in 12,000" in result.stdout and "rows removed" in result.stdout
    assert read_table(tmp_path / "clean.parquet").height == 12_000
    page = (tmp_path / "q.html").read_text(encoding="utf-8")
    assert "<svg" in page and "@" not in page.split("PII-looking columns")[-1]


@pytest.mark.e2e
def test_dedup_when_chinese_jsonl_then_kept_rows_and_clusters(tmp_path: Path) -> None:
    rows = [
        {"text": "今天天气很好，我们一起去公园散步吧，顺便买点水果回家。"},
        {"text": "今天天气很好，我们一起去公园散步吧，顺便买些水果回家。"},
        {"text": "这台电脑的屏幕太小了，看久了眼睛很累，想换一个大的。"},
        {"text": "今天天气很好，我们一起去公园散步吧，顺便买点水果回家。"},
    ]
    (tmp_path / "zh.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    result = _subprocess(  # once through `python -m datawheel`, as users run it
        "dedup", "zh.jsonl", "-o", "u.jsonl", "--text-field", "text", "--threshold", "0.5",
        "--clusters", "c.jsonl", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rows in 4 · exact 1 · near 1 · kept 2" in result.stdout
    assert read_table(tmp_path / "u.jsonl")["text"].to_list() == [rows[0]["text"], rows[2]["text"]]
    clusters = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [c["cluster"] for c in clusters] == [0, 0, 2, 0]


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        # a malformed CSV row: the error names the line
        ("text,n\na,1\nb,2,3\n", [], "line 3 has 3 fields"),
        # an unknown column: the message lists the available ones
        ("text,n\na,1\n", ["--text-field", "body"], "available columns: text, n"),
        # an empty file
        ("", [], "file is empty"),
        # not UTF-8 when told so: names the encoding that decodes it
        ("text,n\nJos\xe9,1\n", ["--encoding", "utf-8"], "--encoding cp1252"),
        # auto, but the bytes read as text in no candidate encoding
        ("text,n\n\x81\x81\x82\x82,1\n", [], "cannot tell the text encoding"),
        # an encoding Python does not know
        ("text,n\na,1\n", ["--encoding", "gbkk"], "unknown encoding 'gbkk'"),
        # a bad option value
        ("text,n\na,1\n", ["--on-bad-lines", "ignore"], "'error' or 'skip'"),
    ],
)
def test_dedup_when_bad_input_then_exit_2_with_one_line(
    tmp_path: Path, content: str, args: list[str], expected: str
) -> None:
    (tmp_path / "in.csv").write_bytes(content.encode("latin-1"))
    if "--text-field" not in args:
        args = [*args, "--text-field", "text"]
    result = _run("dedup", "in.csv", "-o", "out.csv", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_clean_when_skip_bad_lines_and_latin1_then_side_file_and_counts(tmp_path: Path) -> None:
    text = "city,n\nZürich,1\nGenève,2,extra\nZürich,1\nBern,\n"
    (tmp_path / "in.csv").write_bytes(text.encode("latin-1"))
    result = _run(
        "clean", "in.csv", "-o", "out.csv", "--encoding", "latin-1", "--on-bad-lines", "skip",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "exact_duplicate 1" in result.stdout and "bad_line 1" in result.stdout
    assert (tmp_path / "out.csv.bad-lines.csv").read_bytes() == "Genève,2,extra\n".encode("latin-1")
    out = pl.read_csv(tmp_path / "out.csv")
    assert out["city"].to_list() == ["Zürich", "Bern"] and out["n"].to_list() == [1, 1]


def test_clean_when_mixed_types_then_warning_per_column(tmp_path: Path) -> None:
    frame = pl.DataFrame({"age": [str(20 + i) for i in range(30)] + ["forty"]})
    write_table(frame, tmp_path / "m.csv")
    result = _run("clean", "m.csv", "-o", "o.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: mixed types in age: 1 of 31 values are not numbers" in result.stderr


def test_clean_when_output_written_then_readable_by_its_owner_only(tmp_path: Path):
    import stat

    source = tmp_path / "raw.csv"
    source.write_text("name,age\nAda,36\nAlan,41\n", encoding="utf-8")
    os.chmod(tmp_path, 0o755)
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "clean", str(source), "-o", str(tmp_path / "out.csv"),
         "--report", str(tmp_path / "quality.html")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "DATAWHEEL_ROLE"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("out.csv", "quality.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
