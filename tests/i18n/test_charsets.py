"""Detecting a file's encoding: what Excel writes in China, Taiwan and the West, and bytes that
read as nothing."""

from __future__ import annotations

import pytest

from datawheel.errors import DataError
from datawheel.i18n.charsets import decodable_encodings, detect_encoding

from ._tables import customer_table, taiwan_table

SIMPLIFIED = customer_table(120).write_csv()
TRADITIONAL = taiwan_table(120).write_csv()
HEADER_ONLY_CHINESE = "年龄,收入,是否流失\n" + "".join(f"{i % 90},{i * 37},1\n" for i in range(300))
FRENCH = "nom,ville\n" + "Zoë,Créteil\nJosé,Besançon\nLéa,Orléans\n" * 30
GERMAN = "Name,Größe\nJürgen,groß\n" * 20


@pytest.mark.parametrize(
    ("text", "written", "detected"),
    [
        (SIMPLIFIED, "utf-8", "utf-8"),  # the default
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),  # Excel's "CSV UTF-8": a byte-order mark
        (SIMPLIFIED, "gbk", "gb18030"),  # Excel's "CSV" on Chinese Windows
        (SIMPLIFIED + "客户,😀\n", "gb18030", "gb18030"),  # 4-byte GB18030 sequences
        (HEADER_ONLY_CHINESE, "gbk", "gb18030"),  # the only Chinese is the header
        (TRADITIONAL, "big5", "cp950"),  # Excel on Taiwanese Windows
        (TRADITIONAL, "gb18030", "gb18030"),  # traditional characters saved as GBK
        (SIMPLIFIED, "utf-16", "utf-16"),  # "Unicode text": UTF-16 with a byte-order mark
        (SIMPLIFIED, "utf-16-le", "utf-16-le"),  # no mark: NUL on every other byte
        (SIMPLIFIED, "utf-16-be", "utf-16-be"),
        (FRENCH, "cp1252", "cp1252"),  # Western Excel
        (GERMAN, "latin-1", "cp1252"),  # letters side by side beside ASCII letters
    ],
)
def test_detect_encoding_when_excel_wrote_it_then_decodes_to_the_same_text(
    text: str, written: str, detected: str
) -> None:
    data = text.encode(written)
    found = detect_encoding(data, where="t.csv")
    assert found.encoding == detected
    assert data.decode(found.encoding) == data.decode(written)


@pytest.mark.parametrize("written", ["gbk", "big5", "utf-16-le"])
def test_detect_encoding_when_only_a_prefix_cut_mid_character_then_same_choice(
    written: str,
) -> None:
    text = TRADITIONAL if written == "big5" else SIMPLIFIED
    data = text.encode(written)
    cut = data[: len(data) // 2 + 1]  # likely inside a two-byte character
    assert detect_encoding(cut, where="t.csv", complete=False).encoding == (
        detect_encoding(data, where="t.csv").encoding
    )


def test_detect_encoding_when_gbk_then_describes_choice_for_the_log() -> None:
    found = detect_encoding(SIMPLIFIED.encode("gbk"), where="t.csv")
    assert found.describe().startswith("GB18030 (GBK), reads as Chinese")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        # decodes only as rare GBK-extension characters: no ordinary text in any candidate
        (b"a,x\n\x81\x81\x82\x82\x83\x83,1\n", "decode as gb18030"),
        # GBK cut inside a character: only Windows-1252 decodes it, as nonsense
        ("客户姓名,评价\n张伟,很好\n".encode("gbk") + b"\xd5\n", "decode as cp1252"),
        # not one candidate decodes it
        (b"a,x\n\x81\xff\x81\xff,1\n", "not valid UTF-8, UTF-16, GB18030"),
    ],
)
def test_detect_encoding_when_nothing_reads_as_text_then_error_says_so(
    data: bytes, says: str
) -> None:
    with pytest.raises(DataError) as info:
        detect_encoding(data, where="t.csv")
    assert says in str(info.value) and "--encoding" in str(info.value)


@pytest.mark.parametrize(
    ("text", "written", "first"),
    [
        (SIMPLIFIED, "gbk", "gb18030"),  # GBK bytes: GB18030 reads them, best first
        (TRADITIONAL, "big5", "cp950"),
        (FRENCH, "cp1252", "cp1252"),
    ],
)
def test_decodable_encodings_when_not_utf8_then_lists_those_that_decode_best_first(
    text: str, written: str, first: str
) -> None:
    data = text.encode(written)
    found = decodable_encodings(data)
    assert found[0] == first and "utf-8" not in found
    for encoding in found:
        data.decode(encoding)  # every one listed really decodes
