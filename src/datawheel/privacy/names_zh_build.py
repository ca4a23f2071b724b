"""Build the Chinese word lists in ``privacy/data/`` from jieba's dictionary (build time only).

``python -m datawheel.privacy.names_zh_build`` with jieba installed (``pip install jieba``;
jieba and its ``dict.txt`` are MIT-licensed). It writes:
- ``names_zh_shadows.txt``: words of 2-3 characters that begin with a surname ("居然", "高中",
  "幸福", "华为") with their jieba frequency — ordinary words a surname + given-name pattern would
  take for a name.
- ``names_zh_shadows_nr.txt``: frequent two-character words jieba tags as names (``nr``): some
  are words it mis-tagged ("安逸", "盖章", "龙岩"), some real names ("李娜"), so they are
  rejected only where no cue at all stands beside them. Rarer ``nr`` words are names and stay out.
- ``names_zh_given_chars.txt``: the given-name characters of the 3-character names in the
  dictionary seen at least ``_MIN_GIVEN`` times, plus the Faker-derived ones already there.
- ``zh_words_common.txt``: frequent two-character words ("一起", "明天"), to find where a name
  ends when its last character could start the next word ("和孙雪一起" → 孙雪).
- ``zh_traditional.txt``: traditional characters with their simplified forms ("陳\t陈",
  "麗\t丽", "經\t经"), from hanziconv's character map (``pip install hanziconv``, Apache-2.0):
  the recognizer reads a text through it, one character for one, so names and cue words written
  in Taiwan, Hong Kong or Macau ("經理陳美麗", "歐陽志偉") are read like mainland ones.
Nothing here runs at scan time: the recognizer reads the files.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

from datawheel.atomic import atomic_write

DATA = Path(__file__).parent / "data"
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})
_MIN_SHADOW = 3  # a word seen fewer times in jieba's corpus is too rare to shadow a name
_MIN_NR_SHADOW = 40  # an ``nr`` word this frequent is an ordinary word jieba mis-tagged ("龙岩" 50)
_MIN_GIVEN = 8
_MIN_COMMON = 300


def _entries() -> list[tuple[str, int, str]]:
    text = resources.files("jieba").joinpath("dict.txt").read_text("utf-8")
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), parts[2]))
    return out


def _is_han(word: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" for c in word)


def build() -> None:
    """Write the three lists (sorted) under ``privacy/data/``."""
    surnames = set((DATA / "names_zh_surnames.txt").read_text("utf-8").split())
    shadows: dict[str, int] = {}
    shadows_nr: dict[str, int] = {}
    given: Counter[str] = Counter()
    common: dict[str, int] = {}
    for word, freq, tag in _entries():
        if not _is_han(word):
            continue
        if len(word) == 2 and freq >= _MIN_COMMON:
            common[word] = freq
        lead = word[0] in surnames or word[:2] in surnames
        if not lead or not 2 <= len(word) <= 3:
            continue
        if tag in _NAME_TAGS:
            if len(word) == 3 and word[0] in surnames and word[:2] not in surnames:
                given.update(word[1:])
            if len(word) == 2 and freq >= _MIN_NR_SHADOW:
                shadows_nr[word] = freq
        elif freq >= _MIN_SHADOW:
            shadows[word] = freq
    old = set((DATA / "names_zh_given_chars.txt").read_text("utf-8").split())
    chars = old | {c for c, n in given.items() if n >= _MIN_GIVEN}
    _write("names_zh_shadows.txt", [f"{w}\t{f}" for w, f in sorted(shadows.items())])
    _write("names_zh_shadows_nr.txt", [f"{w}\t{f}" for w, f in sorted(shadows_nr.items())])
    _write("names_zh_given_chars.txt", sorted(chars))
    _write("zh_words_common.txt", [f"{w}\t{f}" for w, f in sorted(common.items())])
    build_traditional()


def build_traditional() -> None:
    """Write ``zh_traditional.txt``: traditional -> simplified, one character for one."""
    from hanziconv.charmap import simplified_charmap, traditional_charmap

    pairs = {
        t: s
        for t, s in zip(traditional_charmap, simplified_charmap, strict=True)
        if t != s and _is_han(t) and _is_han(s)
    }
    _write("zh_traditional.txt", [f"{t}\t{s}" for t, s in sorted(pairs.items())])


def _write(name: str, lines: list[str]) -> None:
    atomic_write(DATA / name, "\n".join(lines) + "\n")


if __name__ == "__main__":
    build()
