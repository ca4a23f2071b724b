"""The privacy commands: documented with examples, file in → file out, bad input → exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import click
import polars as pl
import pytest
import typer

from datawheel.cli.main import app, main
from datawheel.privacy.operators import encrypt_value
from datawheel.project.scaffold import init_project
from datawheel.secret import load_secret_key

PRIVACY_COMMANDS = [
    ("pii", "scan"), ("anonymize",), ("privacy", "check"), ("reveal",), ("secret", "rotate"),
    ("erase",), ("subject", "export"),
]  # fmt: skip


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", PRIVACY_COMMANDS, ids=" ".join)
def test_command_when_help_then_docstring_ends_with_example(path):
    command: click.Command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help.strip().splitlines()[-1].startswith("Example: datawheel ")


def test_pii_scan_when_csv_then_one_json_line_per_row(tmp_path, capsys):
    source = tmp_path / "notes.csv"
    texts = ["mail ann@example.com please", "nothing here", "张伟的手机是13812345678"]
    pl.DataFrame({"id": [1, 2, 3], "message": texts}).write_csv(source)
    code, _, err = _cli(capsys, "pii", "scan", source, "-o", tmp_path / "s.jsonl",
                        "--text-field", "message")  # fmt: skip
    assert code == 0, err
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2] and lines[1]["spans"] == []
    span = lines[0]["spans"][0]
    assert set(span) == {"start", "end", "type", "score"} and span["type"] == "EMAIL"
    assert texts[0][span["start"] : span["end"]] == "ann@example.com"
    assert {s["type"] for s in lines[2]["spans"]} == {"PERSON", "PHONE"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return init_project(tmp_path / "income")


def _rows(project: Path, n: int = 20) -> pl.DataFrame:
    return pl.read_csv(project.parent / "data" / "adult.csv.gz", n_rows=n)


def test_anonymize_when_undeclared_pii_then_warns_with_config_lines(project, tmp_path, capsys):
    frame = _rows(project).with_columns(pl.col("email").alias("contact"))
    frame.write_csv(tmp_path / "in.csv")
    code, _, err = _cli(capsys, "anonymize", tmp_path / "in.csv", "-o", tmp_path / "out.csv",
                          "-c", project)  # fmt: skip
    assert code == 0, err
    result = pl.read_csv(tmp_path / "out.csv")
    assert result["email"][0].startswith("EMAIL_") and result["person_id"][0].startswith("SUBJECT_")
    assert result["address"][0] == "[REDACTED]"
    assert "contact (EMAIL)" in err and "contact: pseudonymize" in err


@pytest.mark.parametrize(
    ("args", "code", "expect"),
    [
        (["--quasi", "age,sex", "--k", "1"], 0, "holds"),  # k=1 always holds
        (["--quasi", "age,sex", "--k", "5"], 1, "does NOT hold"),  # exit 1: the check failed
        (["--quasi", "age,sex", "--k", "5", "--enforce"], 2, "--enforce needs -o"),  # bad usage
        (["--quasi", "height", "--k", "5"], 2, "no column 'height'"),  # unknown column
        (["--quasi", "age", "--k", "2", "--sensitive", "race", "--l", "2"], 1, "l achieved"),
    ],
)
def test_privacy_check_when_args_then_exit_code_and_report(project, capsys, args, code, expect):
    source = project.parent / "data" / "adult.csv.gz"
    got, out, err = _cli(capsys, "privacy", "check", source, *args)
    assert got == code and expect in out + err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("Error: ")


def test_privacy_check_when_enforce_then_output_is_k_anonymous(project, tmp_path, capsys):
    source = project.parent / "data" / "adult.csv.gz"
    code, out, _ = _cli(capsys, "privacy", "check", source, "--quasi", "age,sex,native_country",
                        "--k", "5", "--enforce", "-o", tmp_path / "safe.csv", "--json")  # fmt: skip
    report = json.loads(out)
    assert code == 0 and report["after"]["k_achieved"] >= 5
    assert pl.read_csv(tmp_path / "safe.csv").height == report["rows_out"]


def test_reveal_when_admin_then_decrypted_and_when_analyst_then_refused(
    project, tmp_path, capsys, monkeypatch
):
    key = load_secret_key(project.parent)
    sealed = tmp_path / "sealed.csv"
    pl.DataFrame({"ssn": [encrypt_value(key, "123-45-6789", column="ssn")]}).write_csv(sealed)
    monkeypatch.setenv("DATAWHEEL_ROLE", "analyst")
    code, _, err = _cli(capsys, "reveal", sealed, "-o", tmp_path / "o.csv", "-c", project)
    assert code == 2 and "role 'analyst' may not reveal" in err
    assert not (tmp_path / "o.csv").exists()
    code, _, err = _cli(capsys, "subject", "export", "--subject", "P000001", "-o",
                        tmp_path / "s.json", "-c", project)  # fmt: skip
    assert code == 2 and "may not subject export" in err
    monkeypatch.setenv("DATAWHEEL_ROLE", "admin")
    code, _, err = _cli(capsys, "reveal", sealed, "-o", tmp_path / "o.csv", "-c", project)
    assert code == 0, err
    assert pl.read_csv(tmp_path / "o.csv")["ssn"][0] == "123-45-6789"
    assert (tmp_path / "o.csv").stat().st_mode & 0o077 == 0  # readable by its owner only


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["erase", "--subject", " "], "subject id is empty"),
        (["pii", "scan", "missing.csv", "-o", "x.jsonl"], "missing.csv"),
    ],
)
def test_commands_when_bad_input_then_exit_2_one_line(project, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(project.parent)
    code, _, err = _cli(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
