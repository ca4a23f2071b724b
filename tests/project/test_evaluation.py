"""`datawheel evaluate` and `datawheel explain` on the trained income project."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from datawheel.cli.main import main
from datawheel.io import read_table, write_table
from datawheel.project.evaluation import anonymize_rows, evaluate_model
from datawheel.project.pipeline import Project
from datawheel.registry.versions import get_version, load_version_model

PII = ("name", "email", "phone", "address", "ssn")


def _cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def raw_rows(trained_project: Path, tmp_path: Path) -> Path:
    """Eight raw rows of the example data, PII columns and all, without the label."""
    frame = read_table(trained_project.parent / "data" / "adult.csv.gz").slice(1500, 8)
    path = tmp_path / "rows.csv"
    write_table(frame.drop("income"), path)
    return path


@pytest.mark.parametrize(
    ("model_args", "method"),
    [
        ((), "shap"),  # MODEL omitted: the champion; 13 columns → sampled SHAP
        (("v1",), "lime"),  # MODEL given by id; LIME keeps the same contract
    ],
)
def test_explain_cli_when_rows_with_pii_then_one_line_per_row_that_adds_up(
    trained_project: Path, raw_rows: Path, tmp_path: Path, model_args, method
) -> None:
    out = tmp_path / "out.jsonl"
    code = _cli("explain", *model_args, str(raw_rows), "-o", str(out), "--method", method,
                "-c", str(trained_project))  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    project = Project.load(trained_project)
    with project.open_workspace() as ws:
        model = load_version_model(ws, get_version(ws, "champion"))
        proba = model.predict_proba(anonymize_rows(project, ws, read_table(raw_rows)))
    assert [line["index"] for line in lines] == list(range(8))
    for line, p in zip(lines, proba, strict=True):
        assert {"index", "label", "base_value", "values"} <= set(line)
        assert set(line["values"]) == set(model.input_schema)  # input columns, no PII
        assert line["label"] == model.classes[int(np.argmax(p))]
        total = line["base_value"] + sum(line["values"].values())
        assert abs(total - p[model.classes.index(line["label"])]) < 1e-5
    raw = read_table(raw_rows)
    text = out.read_text()
    assert not any(str(v) in text for column in PII for v in raw[column].to_list())


def test_explain_cli_when_input_lacks_a_feature_then_exit_2_one_line(
    trained_project: Path, raw_rows: Path, tmp_path: Path, capsys
) -> None:
    broken = tmp_path / "broken.csv"
    write_table(read_table(raw_rows).drop("age"), broken)
    code = _cli("explain", str(broken), "-o", str(tmp_path / "o.jsonl"), "-c", str(trained_project))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("Error:") and "age" in err[0]


def test_evaluate_when_data_file_with_pii_then_scored_with_intervals(
    trained_project: Path, tmp_path: Path
) -> None:
    data = tmp_path / "labelled.csv"
    write_table(read_table(trained_project.parent / "data" / "adult.csv.gz").slice(1000, 300), data)
    project = Project.load(trained_project)
    with project.open_workspace() as ws:
        result = evaluate_model(project, ws, data=data)
    assert result.rows == 300 and result.data == str(data)
    low, high = result.intervals["accuracy"]
    assert low <= result.metrics["accuracy"] <= high
    assert {"sex", "race", "sex×race"} <= set(result.fairness)


@pytest.mark.e2e
def test_evaluate_cli_when_report_then_card_renders_in_chromium_without_console_errors(
    trained_project: Path, tmp_path: Path, capsys
) -> None:
    card = tmp_path / "card.html"
    assert _cli("evaluate", "--report", str(card), "-c", str(trained_project)) == 0
    printed = capsys.readouterr().out
    assert "95% CI" in printed and "fairness" in printed
    html = card.read_text()
    for heading in ("Feature importance", "Calibration", "Confusion matrix", "Fairness",
                    "Intended use", "Limitations", "Data"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in html
    assert "1994 US census data" in html  # limitations from the project file
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): render not checked")
    shot = tmp_path / "card.png"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1200,2400", card.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # page messages appear as "…:CONSOLE:…" lines; the card has no script, so any is an error
    console = [line for line in result.stderr.splitlines() if re.search(r":CONSOLE|Uncaught", line)]
    assert console == []
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
