"""The Chinese interface: a complete catalog, chosen by DATAWHEEL_LANG, LANG or Accept-Language,
translating messages built from f-strings with their values."""

from __future__ import annotations

import re

import pytest

from datawheel.errors import DataError
from datawheel.i18n import catalog
from datawheel.i18n.catalog import (
    LOCALE_DIR,
    from_accept_language,
    language,
    translate,
    translate_error,
    use_language,
)

PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "datawheel.po"
PLACEHOLDER = re.compile(r"\{[^{}]+\}")


def _entries() -> list:
    from babel.messages.pofile import read_po

    return [m for m in read_po(PO.open("rb")) if m.id]


def test_catalog_when_read_then_every_message_translated_with_its_placeholders() -> None:
    entries = _entries()
    assert len(entries) > 900
    untranslated = [m.id for m in entries if not m.string]
    assert untranslated == []
    for m in entries:  # a placeholder lost or invented would drop or garble a value
        assert set(PLACEHOLDER.findall(m.id)) == set(PLACEHOLDER.findall(m.string)), m.id


def test_catalog_when_source_extracted_then_no_message_missing() -> None:
    from datawheel.cli.messages import extract_messages, help_texts, template_messages

    in_catalog = {m.id for m in _entries()}
    found = {**extract_messages(), **template_messages(), **help_texts()}
    missing = {msgid: places[0] for msgid, places in found.items() if msgid not in in_catalog}
    assert missing == {}, "run `python -m datawheel.cli.messages`, then translate"


def test_catalog_when_compiled_then_committed_mo_matches_the_po(tmp_path) -> None:
    import shutil

    from datawheel.cli.messages import compile_catalog

    copy = tmp_path / "datawheel.po"
    shutil.copy(PO, copy)
    assert compile_catalog(copy) == PO.with_suffix(".mo").read_bytes()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),  # nothing set
        ({"DATAWHEEL_LANG": "zh_CN"}, "zh_CN"),
        ({"DATAWHEEL_LANG": "zh-CN"}, "zh_CN"),  # the BCP 47 spelling too
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),  # the POSIX locale
        ({"LANG": "zh_TW.UTF-8"}, "zh_CN"),  # the one Chinese catalog serves every script
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL overrides LANG, as in POSIX
        ({"LANG": "zh_CN.UTF-8", "DATAWHEEL_LANG": "en"}, "en"),  # ours overrides the locale
        ({"LANG": "fr_FR.UTF-8"}, "en"),  # no French catalog
    ],
)
def test_language_when_environment_then_chosen(monkeypatch, env, expected) -> None:
    for name in ("DATAWHEEL_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert language() == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),  # a browser in China
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),  # English preferred
        ("fr-FR, zh;q=0.5", "zh_CN"),  # the best supported one
        ("zh;q=0, en", "en"),  # q=0 means not acceptable
        ("fr-FR", None),  # nothing supported: the server's language
        (None, None),
    ],
)
def test_from_accept_language_when_header_then_preferred_supported(header, expected) -> None:
    assert from_accept_language(header) == expected


def test_translate_when_message_from_fstring_then_values_carried_over() -> None:
    path = "数据/客户.csv"
    with use_language("zh_CN"):
        assert translate(f"data file not found: {path}") == f"找不到数据文件：{path}"
        error = DataError(
            f"column {'年纪'!r} named in data.target is not in the table",
            where="datawheel.yaml: data.target",
            hint="did you mean '年龄'? available columns: 年龄, 性别",
        )
        line = translate_error(error)
    assert line.startswith("datawheel.yaml: data.target: data.target 中指定的列 '年纪' 不在表中")
    assert "（提示：" in line and "'年龄'" in line
    assert translate(f"data file not found: {path}") == f"data file not found: {path}"  # English


def test_translate_when_message_unknown_then_unchanged() -> None:
    with use_language("zh_CN"):
        assert translate("a message nobody wrote") == "a message nobody wrote"


def test_use_language_when_nested_then_restored() -> None:
    with use_language("zh_CN"):
        assert catalog.language() == "zh_CN"
        with use_language("en"):
            assert catalog.language() == "en"
        assert catalog.language() == "zh_CN"
