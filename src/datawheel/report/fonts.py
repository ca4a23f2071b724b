"""Fonts that draw Chinese: the pages' font stack, and a CJK font for matplotlib's charts.

A page names CJK fonts for every platform (PingFang on macOS, Microsoft YaHei on Windows,
Noto/Source Han and WenQuanYi on Linux) so a browser never falls back to boxes while one is
installed. matplotlib measures text with its own fonts: DejaVu Sans has no Chinese, so a
chart labelled in Chinese is laid out with box-wide glyphs (and matplotlib warns once per
glyph) unless a CJK font sits behind DejaVu in its fallback list. The font cache matplotlib
builds on first use does not see fonts installed later, so when none of the known families
is in it, the font files on disk are looked at once.
"""

from __future__ import annotations

import logging
import re
from functools import cache

__all__ = ["CJK_FONTS", "CSS_FONT_STACK", "chart_font", "has_cjk", "text_lang"]

log = logging.getLogger(__name__)

# Sans-serif families with Chinese glyphs, simplified-Chinese forms first.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Heiti SC",
    "SimHei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
)
_LATIN = (
    "system-ui",
    "-apple-system",
    '"Segoe UI"',
    "Roboto",
    '"Helvetica Neue"',
    "Arial",
    '"Noto Sans"',
)
CSS_FONT_STACK = ", ".join((*_LATIN, *(f'"{name}"' for name in CJK_FONTS), "sans-serif"))
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
# file names of CJK fonts on Linux, macOS and Windows
_CJK_FILE = re.compile(r"cjk|sourcehan|wqy|wenquanyi|pingfang|msyh|yahei|simhei|droidsansfallback")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese (or other CJK) characters or full-width punctuation."""
    return bool(_CJK.search(text))


def text_lang(text: str) -> str | None:
    """``zh-CN`` for text with Chinese characters (and no kana or hangul), else None: the
    ``lang`` that makes a browser pick Chinese glyph forms over Japanese ones."""
    return "zh-CN" if has_cjk(text) and not _KANA_HANGUL.search(text) else None


def chart_font() -> str | None:
    """The first of ``CJK_FONTS`` matplotlib can use, or None (logged once, as a warning)."""
    found = _find_chart_font(CJK_FONTS)
    if found is None:
        _warn_no_font()
    return found


@cache
def _find_chart_font(candidates: tuple[str, ...]) -> str | None:
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _first_installed(manager, candidates)
    if found is None:  # installed after matplotlib's font cache was built
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(path.lower().replace(" ", "").replace("-", "")):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a file FreeType cannot read: look at the next one
        found = _first_installed(manager, candidates)
    return found


def _first_installed(manager: object, candidates: tuple[str, ...]) -> str | None:
    names = {entry.name for entry in manager.ttflist}  # type: ignore[attr-defined]
    return next((name for name in candidates if name in names), None)


@cache
def _warn_no_font() -> None:
    log.warning(
        "no font with Chinese characters is installed: Chinese chart labels will be drawn as "
        "boxes; install one (Debian/Ubuntu: apt-get install fonts-noto-cjk), or any of %s",
        ", ".join(CJK_FONTS[:6]),
    )
