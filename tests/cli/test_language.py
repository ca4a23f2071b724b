"""The command line in Chinese: help, results and errors, chosen by DATAWHEEL_LANG or LANG."""

from __future__ import annotations

from pathlib import Path

import pytest

from in_process import run_main


def _run(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = run_main(*args, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def chinese(monkeypatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATAWHEEL_LANG", "zh_CN")


def test_help_when_chinese_then_commands_and_options_described_in_chinese(
    chinese, tmp_path: Path
) -> None:
    code, out, _ = _run("clean", "--help", cwd=tmp_path)
    assert code == 0
    assert "清洗一张表" in out and "示例：datawheel clean" in out
    assert "输出表；格式由扩展名决定。" in out and "选项" in out
    assert "--encoding" in out and "--output" in out  # options keep their names
    assert "用法：" in out and "显示本帮助并退出。" in out  # click's own texts too
    assert "Usage:" not in out and "Show this message" not in out


def test_clean_when_chinese_then_result_line_and_removed_rows_in_chinese(
    chinese, tmp_path: Path
) -> None:
    rows = "姓名,评价\n张伟,很好\n张伟,很好\n李娜,一般\n"
    (tmp_path / "客户.csv").write_bytes(rows.encode("gbk"))
    code, out, err = _run("clean", "客户.csv", "-o", "out.csv", cwd=tmp_path)
    assert code == 0, err
    assert "输入 3 行 · 输出 2 行" in out and "删除的行：exact_duplicate 1" in out
    assert "客户.csv：读取编码为 GB18030 (GBK)，读起来是中文" in err  # the encoding notice too


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["clean", "没有.csv", "-o", "o.csv"], "错误：没有.csv: 找不到文件（提示：请检查路径）"),
        (["dedup", "t.csv", "-o", "o.csv", "--text-field", "评价", "--encoding", "gbkk"],
         "错误：未知的编码 'gbkk'（提示：请使用 auto（默认）"),
        (["dedup", "t.csv", "-o", "o.csv", "--text-field", "内容"],
         "错误：没有文本列 '内容'（提示：可用的列：姓名, 评价）"),
    ],
)  # fmt: skip
def test_error_when_chinese_then_one_translated_line_and_exit_2(
    chinese, tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "t.csv").write_text("姓名,评价\n张伟,很好\n", encoding="utf-8")
    code, _, err = _run(*args, cwd=tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(expected)


def test_error_when_lang_locale_is_chinese_then_chinese(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATAWHEEL_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    code, _, err = _run("clean", "没有.csv", "-o", "o.csv", cwd=tmp_path)
    assert code == 2 and err.startswith("错误：")


def test_error_when_english_then_unchanged(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATAWHEEL_LANG", "en")
    code, _, err = _run("clean", "missing.csv", "-o", "o.csv", cwd=tmp_path)
    assert code == 2 and err == "Error: missing.csv: file not found (hint: check the path)\n"
