"""Tests for datawheel.data.clean_file: streamed batches give clean_frame's result; the report."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.clean import clean_frame
from datawheel.data.clean_file import clean_file
from datawheel.data.quality_report import quality_report_html
from datawheel.data.schema import feature_columns, infer_schema
from datawheel.io import read_table, write_table

_WORDS = [f"w{i}" for i in range(500)]


def _table(n: int = 10_000) -> pl.DataFrame:
    """Rows with exact duplicates, near-duplicate notes, gaps, outliers and an email column."""
    rng = random.Random(7)
    rows = []
    for i in range(n):
        if i > 100 and rng.random() < 0.05:
            rows.append(dict(rows[rng.randrange(len(rows))]))  # an exact duplicate
            continue
        words = [rng.choice(_WORDS) for _ in range(30)]
        if i > 100 and rng.random() < 0.05:  # a near-duplicate note: one word changed
            words = rows[rng.randrange(len(rows))]["note"].split()
            words[rng.randrange(30)] = rng.choice(_WORDS)
        rows.append(
            {
                "email": f"user{i}@example.com",
                "age": None
                if rng.random() < 0.03
                else rng.randint(18, 70) * (9 if i % 997 == 0 else 1),
                "income": None if rng.random() < 0.02 else round(rng.gauss(50, 10), 2),
                "city": None if rng.random() < 0.04 else rng.choice(["Paris", "Lyon", "Nice"]),
                "note": " ".join(words),
                "label": rng.choice(["yes", "no"]),
            }
        )
    return pl.DataFrame(rows)


def _near(value: object) -> object:
    return pytest.approx(value, rel=1e-12) if isinstance(value, float | tuple) else value


DATA = DataConfig(source="t.csv", target="label", text=["note"])


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        # the defaults: exact dedup, median / most frequent, IQR clip
        ("t.csv", {}),
        # gzip JSON lines; near dedup on the note, mean fill, z-score drop
        (
            "t.jsonl.gz",
            {
                "dedup": {"near": {"fields": ["note"]}},
                "missing": {"numeric": "mean"},
                "outliers": {"method": "zscore", "factor": 3, "action": "drop"},
            },
        ),
        # Parquet; ffill carries across batches, categorical drop, flag, rules, normalization
        (
            "t.parquet",
            {
                "missing": {"numeric": "ffill", "categorical": "drop"},
                "outliers": {"action": "flag"},
                "rules": [{"when": "age > 60", "set": {"senior": True}}],
                "normalize": {"text": True, "lowercase": True},
            },
        ),
    ],
)
def test_clean_file_when_batches_of_1000_then_equals_in_memory_clean_frame(
    tmp_path: Path, name: str, clean: dict
) -> None:
    raw = _table()
    write_table(raw, tmp_path / name)
    config = CleanConfig.model_validate(clean)
    out = tmp_path / ("out-" + name)
    result = clean_file(tmp_path / name, out, config=config, data=DATA, batch_rows=1_000)
    numeric, categorical = feature_columns(infer_schema(raw, DATA))
    expected, stats = clean_frame(
        read_table(tmp_path / name),
        config,
        numeric=numeric,
        categorical=categorical,
        text=["note"],
        target="label",
    )
    assert_frame_equal(read_table(out), expected)
    assert result.stats.dropped == stats.dropped
    # learned over 10 batches: sums may differ from one whole-column sum in the last bit
    assert result.stats.fill_values == {k: _near(v) for k, v in stats.fill_values.items()}
    assert result.stats.outlier_bounds == {k: _near(v) for k, v in stats.outlier_bounds.items()}
    assert result.stats.rows_in - sum(result.stats.dropped.values()) == result.stats.rows_out


def test_clean_file_when_malformed_lines_skipped_then_counted_as_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("a,b\n1,x\n2,y,extra\n1,x\n3,z\n")
    result = clean_file(path, tmp_path / "o.csv", on_bad_lines="skip", batch_rows=2)
    assert result.stats.dropped == {"exact_duplicate": 1, "bad_line": 1}
    assert (result.stats.rows_in, result.stats.rows_out) == (4, 2)


def test_clean_file_when_mixed_types_then_reported_per_column(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("n,k\n" + "".join(f"{i},a\n" for i in range(20)) + "forty,b\n")
    result = clean_file(path, tmp_path / "o.parquet", batch_rows=5)
    assert list(result.type_issues) == ["n"] and "'forty'" in result.type_issues["n"]


def test_clean_file_when_id_numbers_end_in_x_then_text_and_no_type_issue(tmp_path: Path) -> None:
    from i18n._tables import customer_table

    frame = customer_table(400)
    path = tmp_path / "客户.csv"
    path.write_bytes(frame.write_csv().encode("gbk"))  # as Excel saves it in China
    report = tmp_path / "q.html"
    result = clean_file(path, tmp_path / "o.csv", batch_rows=50, report=report)
    assert result.type_issues == {}
    out = read_table(tmp_path / "o.csv")
    assert out["身份证号"].to_list() == frame["身份证号"].to_list()  # X and all, as text
    assert out["邮编"][0] == "010010"
    assert "not numbers" not in report.read_text(encoding="utf-8")


def test_report_when_rendered_then_pii_values_absent_and_sections_present(tmp_path: Path) -> None:
    raw = _table(3_000)
    write_table(raw, tmp_path / "t.csv")
    config = CleanConfig.model_validate({"dedup": {"near": {"fields": ["note"]}}})
    result = clean_file(tmp_path / "t.csv", tmp_path / "o.csv", config=config, data=DATA)
    page = quality_report_html(result)
    assert "@example.com" not in page  # the email column is named, never shown
    assert "email" in page and "EMAIL" in page
    for heading in ("Rows removed", "Duplicates", "Distributions", "PII-looking columns"):
        assert heading in page
    assert "exact duplicate" in page and "near duplicate" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


@pytest.mark.e2e
@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_report_when_opened_in_headless_chromium_then_no_console_errors(tmp_path: Path) -> None:
    raw = _table(2_000)
    write_table(raw, tmp_path / "t.csv")
    report = tmp_path / "q.html"
    clean_file(tmp_path / "t.csv", tmp_path / "o.csv", data=DATA, report=report)
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,3000",
            "--enable-logging=stderr",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [
        line for line in run.stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line
    ]
    assert errors == []
    assert shot.stat().st_size > 10_000


def test_report_when_interface_is_chinese_then_headings_and_labels_chinese(tmp_path: Path) -> None:
    from datawheel.i18n.catalog import use_language

    write_table(_table(500), tmp_path / "t.csv")
    with use_language("zh_CN"):
        clean_file(tmp_path / "t.csv", tmp_path / "o.csv", data=DATA, report=tmp_path / "q.html")
    page = (tmp_path / "q.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "数据质量：t.csv" in page
    for heading in ("概览", "删除的行", "列", "分布", "异常值", "缺失值", "重复", "疑似 PII 的列"):
        assert f">{heading}</h2>" in page
    assert "<th>输入行数</th>" in page and "<th>疑似 PII</th>" in page
