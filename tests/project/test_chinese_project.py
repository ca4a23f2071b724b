"""A Chinese team's project end to end: a GBK-encoded table with Chinese headers, ID-card and
phone numbers, read by every command that reads a file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from datawheel.io import read_table
from datawheel.secret import generate_key_file
from i18n._tables import ZH_PROJECT, census_zh
from in_process import run_main
from report._chromium import chromium_page, require_chromium_and_cjk_fonts

NOTICE = "read as GB18030 (GBK)"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = run_main(*args, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def _gbk(frame: pl.DataFrame, path: Path) -> Path:
    path.write_bytes(frame.write_csv().encode("gbk"))  # what Excel saves on Chinese Windows
    return path


@pytest.fixture(scope="module")
def zh_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained project whose source is a 600-row GBK file; `datawheel run` says the encoding."""
    root = tmp_path_factory.mktemp("zh") / "客户项目"
    (root / "data").mkdir(parents=True)
    _gbk(census_zh(600), root / "data" / "客户.csv")
    (root / "datawheel.yaml").write_text(ZH_PROJECT, encoding="utf-8")
    generate_key_file(root / "datawheel.key")
    code, _, err = _cli("run", cwd=root)
    assert code == 0, err
    assert f"客户.csv: {NOTICE}, reads as Chinese" in err
    return root


@pytest.fixture
def new_rows(zh_project: Path, tmp_path: Path) -> Path:
    """Forty new labelled rows, saved by Excel as GBK."""
    return _gbk(census_zh(640).slice(600, 40), tmp_path / "新数据.csv")


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "--data", "{rows}"],
        ["explain", "{rows}", "-o", "{out}.jsonl"],
        ["anonymize", "{rows}", "-o", "{out}.csv"],
        ["pii", "scan", "{rows}", "-o", "{out}.jsonl", "--text-field", "评价内容"],
        ["privacy", "check", "{rows}", "--quasi", "年龄,性别", "--k", "1"],
        ["clean", "{rows}", "-o", "{out}.csv"],
        ["dedup", "{rows}", "-o", "{out}.csv", "--text-field", "评价内容"],
        ["share", "{rows}", "--to", "合作方", "-o", "{out}"],
        [
            "share",
            "stats",
            "{rows}",
            "--group-by",
            "性别",
            "--measure",
            "count",
            "--keys",
            "性别=男|女",
            "--epsilon",
            "1",
            "-o",
            "{out}.csv",
        ],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_command_when_input_is_gbk_then_read_and_encoding_said_once(
    zh_project: Path, new_rows: Path, tmp_path: Path, command: list[str]
) -> None:
    args = [a.format(rows=new_rows, out=tmp_path / "out") for a in command]
    code, _, err = _cli(*args, cwd=zh_project)
    assert code == 0, err
    assert err.count(NOTICE) == 1 and "新数据.csv" in err


def test_anonymize_then_reveal_when_files_are_gbk_then_id_numbers_round_trip(
    zh_project: Path, new_rows: Path, tmp_path: Path
) -> None:
    protected = tmp_path / "protected.csv"
    assert _cli("anonymize", str(new_rows), "-o", str(protected), cwd=zh_project)[0] == 0
    shared = _gbk(read_table(protected), tmp_path / "给同事.csv")  # passed on through Excel
    revealed = tmp_path / "revealed.csv"
    code, _, err = _cli("reveal", str(shared), "-o", str(revealed), cwd=zh_project)
    assert code == 0, err
    original = read_table(new_rows)["身份证号"].to_list()
    assert read_table(revealed)["身份证号"].to_list() == original  # 18 characters, X and all


def test_explain_when_gbk_rows_then_chinese_feature_names_in_output(
    zh_project: Path, new_rows: Path, tmp_path: Path
) -> None:
    out = tmp_path / "e.jsonl"
    assert _cli("explain", str(new_rows), "-o", str(out), cwd=zh_project)[0] == 0
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert {"年龄", "性别", "每周工时"} <= set(first["values"])
    assert "身份证号" not in first["values"] and first["label"] in ("是", "否")


def test_run_when_encoding_option_wrong_then_error_names_what_decodes(zh_project: Path) -> None:
    code, _, err = _cli("run", "--encoding", "utf-8", cwd=zh_project)
    assert code == 2 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert "not valid utf-8" in err and "--encoding gb18030" in err


def test_evaluate_report_when_chinese_project_then_card_draws_every_chinese_glyph(
    zh_project: Path, tmp_path: Path
) -> None:
    card = tmp_path / "模型卡.html"
    code, _, err = _cli("evaluate", "--report", str(card), cwd=zh_project)
    assert code == 0, err
    html = card.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "Noto Sans CJK SC" in html
    assert "warning" not in err  # no glyph-missing noise from matplotlib
    chromium = require_chromium_and_cjk_fonts()
    with chromium_page(chromium, tmp_path / "profile") as tab:
        tab.open(card.as_uri())
        chinese = [
            element
            for selector in ("h1", "th", "td", "svg text")
            for element in tab.drawn(selector)
            if HAN.search(element.text)
        ]
    assert {e.selector for e in chinese} >= {"h1", "td", "svg text"}  # title, tables, charts
    assert [e for e in chinese if not e.draws(HAN.findall(e.text))] == []


def test_init_from_when_gbk_table_then_encoding_pinned_and_chinese_name_kept(
    tmp_path: Path,
) -> None:
    source = _gbk(census_zh(200), tmp_path / "客户.csv")
    code, _, err = _cli("init", "客户流失", "--from", str(source), "--target", "是否高收入",
                          "--id", "客户编号", cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert err.count(NOTICE) == 1
    text = (tmp_path / "客户流失" / "datawheel.yaml").read_text(encoding="utf-8")
    assert "name: 客户流失" in text and "encoding: gb18030" in text
    assert "身份证号" in text  # detected as PII and given a rule
