"""Text encodings of data files: detect the one a file is in, and name those that would work.

Excel saves CSV as GBK on Chinese Windows, as Big5 (cp950) on Taiwanese Windows, and as UTF-16
when asked for "Unicode text"; a detector must tell these apart on a file whose only Chinese
may be its header. General-purpose detectors guess from byte statistics and misread such short
signals (charset-normalizer takes a GBK header over numbers for Korean cp949), so the rule here
is narrower and checkable: a byte-order mark decides; else UTF-16 when NUL bytes fall on every
other byte; else valid UTF-8 is UTF-8 (ASCII too); else each 8-bit candidate that decodes the
bytes is scored by how much of its non-ASCII text is ordinary text in its language (the common
characters of GB2312 and Big5, read from the codecs themselves; Western letters standing alone
or beside ASCII letters) and the best wins, unless it reads as nothing at all.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache

from datawheel.errors import DataError
from datawheel.i18n.catalog import _

__all__ = [
    "AUTO",
    "CANDIDATES",
    "Detection",
    "check_encoding",
    "decodable_encodings",
    "detect_encoding",
    "encoding_label",
    "is_utf8",
]

AUTO = "auto"
# 8-bit candidates in order of preference on a tie: mainland China first.
CANDIDATES = ("gb18030", "cp950", "cp1252")
PLAUSIBLE_SHARE = 0.8  # share of non-ASCII characters that must read as ordinary text
_SCORED_RUNS = 20_000  # runs of non-ASCII characters looked at (spread over the whole file)
_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32": "UTF-32",
    "gb18030": "GB18030 (GBK)",
    "cp950": "Big5 (cp950)",
    "cp1252": "Windows-1252 (Latin-1)",
}
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True)
class Detection:
    """The encoding chosen for a file, why, and the other candidates that decode it too."""

    encoding: str  # a Python codec name
    reason: str  # why: bom, nul-parity, utf-8, or the language the text reads as
    alternatives: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the log, in the interface language: ``GB18030 (GBK), reads as
        Chinese``."""
        label = encoding_label(self.encoding)
        text = {
            "bom": _(f"{label}, byte-order mark"),
            "nul-parity": _(f"{label}, NUL on every other byte"),
            "utf-8": _(f"{label}, valid UTF-8"),
            "gb18030": _(f"{label}, reads as Chinese"),
            "cp950": _(f"{label}, reads as traditional Chinese"),
        }.get(self.reason) or _(f"{label}, reads as Western European text")
        if self.alternatives:
            others = ", ".join(self.alternatives)
            text += _(f"; also decodes as {others}")
        return text


def encoding_label(encoding: str) -> str:
    """A codec name as people know it: ``gb18030`` → ``GB18030 (GBK)``."""
    name = codecs.lookup(encoding).name
    return _LABELS.get(encoding, _LABELS.get(name, encoding))


def check_encoding(encoding: str) -> None:
    """Raise a DataError for an encoding Python does not know (``auto`` is known)."""
    if encoding == AUTO:
        return
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(
            f"unknown encoding {encoding!r}",
            hint="use auto (the default), utf-8, gb18030, big5, utf-16 or latin-1",
        ) from None


def is_utf8(encoding: str) -> bool:
    return encoding != AUTO and codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def detect_encoding(data: bytes, *, where: str, complete: bool = True) -> Detection:
    """The encoding of ``data`` (the whole file, or its first bytes when not ``complete``).

    Raises DataError when no candidate decodes the bytes, or none reads as text; the error
    lists what does decode and says how to pass the right one.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom) and _decodes(data, encoding, complete):
            return Detection(encoding, "bom")
    wide = _utf16_without_bom(data)  # before UTF-8: NUL bytes are valid UTF-8
    if wide and _decodes(data, wide, complete):
        return Detection(wide, "nul-parity")
    if _decodes(data, "utf-8", complete):
        return Detection("utf-8", "utf-8")
    scored = _scored(data, complete)
    if scored and scored[0][1] >= PLAUSIBLE_SHARE:
        best = scored[0][0]
        others = tuple(e for e, s in scored[1:] if s >= PLAUSIBLE_SHARE / 2)
        return Detection(best, best, others)
    if scored:
        names = ", ".join(e for e, _ in scored)
        raise DataError(
            f"cannot tell the text encoding: the bytes decode as {names}, but read as "
            "ordinary text in none of them",
            where=where,
            hint="pass the file's encoding with --encoding (e.g. shift_jis, euc-kr, latin-1), "
            "or re-save it as UTF-8",
        )
    raise DataError(
        "cannot tell the text encoding: not valid UTF-8, UTF-16, GB18030, Big5 or Windows-1252",
        where=where,
        hint="re-save the file as UTF-8, or pass its encoding with --encoding (e.g. latin-1)",
    )


def decodable_encodings(data: bytes, *, complete: bool = True) -> list[str]:
    """Every candidate that decodes ``data`` (UTF-8 and UTF-16 first, then by how plausible
    the text reads), for the hint of an error about a file that did not decode."""
    found = ["utf-8"] if _decodes(data, "utf-8", complete) else []
    marked = next((e for bom, e in _BOMS if data.startswith(bom)), None)
    wide = marked if marked and marked != "utf-8-sig" else _utf16_without_bom(data)
    if wide and _decodes(data, wide, complete):
        found.append(wide)
    return found + [e for e, score in _scored(data, complete) if score > 0]


def _decodes(data: bytes, encoding: str, complete: bool) -> bool:
    """Whether ``data`` decodes; a prefix may end inside a character."""
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NULs sit on one parity (the high bytes of ASCII), else None."""
    head = data[:65_536]
    even, odd = head[0::2], head[1::2]
    if not odd:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _scored(data: bytes, complete: bool) -> list[tuple[str, float]]:
    """(candidate, plausibility) for each 8-bit candidate that decodes ``data``, best first."""
    sample = data if complete else data[: data.rfind(b"\n") + 1] or data
    out = []
    for encoding in CANDIDATES:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        out.append((encoding, _plausibility(text, encoding)))
    order = {e: i for i, e in enumerate(CANDIDATES)}
    return sorted(out, key=lambda pair: (-pair[1], order[pair[0]]))


def _plausibility(text: str, encoding: str) -> float:
    """Share of the non-ASCII characters of ``text`` that are ordinary text for ``encoding``."""
    total = ordinary = 0
    common = _common_chinese() if encoding != "cp1252" else frozenset()
    for n, run in enumerate(_NON_ASCII_RUN.finditer(text)):
        if n == _SCORED_RUNS:
            break
        chars = run.group()
        total += len(chars)
        if encoding != "cp1252":
            ordinary += sum(c in common for c in chars)
        elif _western_run(text, run.start(), run.end()):
            ordinary += len(chars)
    return ordinary / total if total else 1.0


def _western_run(text: str, start: int, end: int) -> bool:
    """Accented letters come alone (``café``) or in pairs beside ASCII letters (``Größe``);
    Chinese read as Windows-1252 comes in runs of two bytes per character."""
    if not all(c.isalpha() or c in "€£¥°§©®±µ·¿¡«»–—‘’“”…" for c in text[start:end]):
        return False
    if end - start == 1:
        return True
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    beside_letter = (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())
    return end - start == 2 and beside_letter


@cache
def _common_chinese() -> frozenset[str]:
    """The characters of ordinary Chinese text: GB2312's symbols, full-width forms and both
    levels of hanzi, and Big5's symbols and frequent hanzi — read from the codecs."""
    chars: set[str] = set()
    rows = [0xA1, 0xA3, *range(0xB0, 0xF8)]  # GB2312: symbols, full-width, level 1 and 2
    for lead in rows:
        for trail in range(0xA1, 0xFF):
            chars.update(bytes([lead, trail]).decode("gb2312", errors="ignore"))
    for lead in range(0xA1, 0xC7):  # Big5: symbols (A1-A3), frequent hanzi (A440-C67E)
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            if lead == 0xC6 and trail > 0x7E:
                break
            chars.update(bytes([lead, trail]).decode("cp950", errors="ignore"))
    return frozenset(chars)
