"""The interface's language: gettext catalogs, chosen by DATAWHEEL_LANG, LANG or Accept-Language.

Messages are translated at the edges, so the library's code keeps its English f-strings: an
error's message and hint, a line the CLI prints, a help text or a report label is looked up
in the catalog as it leaves — exactly, or, for a message built from an f-string, against the
f-string's template (``file {path} not found`` → ``找不到文件 {path}``), whose placeholders
carry the values over. ``python -m datawheel.cli.messages`` collects the templates from the
source into ``locales/zh_CN/LC_MESSAGES/datawheel.po`` and compiles the ``.mo`` read here.
A message the catalog lacks stays English. Error codes stay English everywhere.
"""

from __future__ import annotations

import contextvars
import gettext
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "_",
    "from_accept_language",
    "html_lang",
    "language",
    "translate",
    "translate_error",
    "use_language",
]

DOMAIN = "datawheel"
LOCALE_DIR = Path(__file__).with_name("locales")
LANGUAGES = ("en", "zh_CN")  # English is the source; zh_CN has a catalog
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("lang", default=None)
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")
# placeholders whose values are themselves catalog phrases (a gate's "pass" / "FAIL", why a
# retrain was forced, …), translated inside the message that carries them; every other value
# (a column, a number, a version id) is data and is left as it is
_PHRASES = frozenset(
    {"{purpose}", "{verdict}", "{forced_by}", "{champion_gap}", "{primary_value}", "{described}",
     "{gap_reason}"}
)  # fmt: skip


def normalize(tag: str | None) -> str | None:
    """``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans``, ``zh`` → ``zh_CN``; ``en_US`` → ``en``;
    None for an empty or unknown tag (``C``, ``POSIX``, ``fr``)."""
    if not tag:
        return None
    base = tag.split(".")[0].split("@")[0].replace("-", "_").lower()
    if base.startswith("zh"):
        return "zh_CN"  # the one Chinese catalog; traditional-script readers read it too
    if base.startswith("en"):
        return "en"
    return None


def language() -> str:
    """The language in force: a ``use_language`` block, else ``DATAWHEEL_LANG``, else the
    POSIX locale variables (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English."""
    chosen = _override.get()
    if chosen:
        return chosen
    for name in ("DATAWHEEL_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:  # the first one set decides, as in POSIX (LC_ALL=C means C)
            return normalize(value) or "en"
    return "en"


@contextmanager
def use_language(lang: str | None) -> Iterator[None]:
    """Within the block (one request, one thread or task), messages go out in ``lang``."""
    token = _override.set(normalize(lang) if lang else None)
    try:
        yield
    finally:
        _override.reset(token)


def from_accept_language(header: str | None) -> str | None:
    """The supported language an ``Accept-Language`` header prefers most (q-values honoured),
    or None when it names none of them."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                continue
        lang = normalize(tag.strip())
        if lang and q > 0 and (best is None or (q, -position) > (best[0], best[1])):
            best = (q, -position, lang)
    return best[2] if best else None


def html_lang() -> str | None:
    """The ``lang`` of a page in the interface language (``zh-CN``), None for English."""
    return "zh-CN" if language() == "zh_CN" else None


def _(message: str) -> str:
    """``message`` in the interface language (see ``translate``): wrap a label, or an
    f-string whose template the catalog holds; English when not translated."""
    return translate(message)


def N_(message: str) -> str:
    """``message`` unchanged: marks a constant for the catalog; it is translated where shown."""
    return message


def translate(text: str) -> str:
    """``text`` in the interface language: an exact entry, or the entry of the f-string
    template it was built from, with the template's values carried over."""
    lang = language()
    if not text or lang == "en":
        return text
    catalog = _catalog(lang)
    exact = catalog.gettext(text)
    if exact != text:
        return exact
    for pattern, names, target in _templates(lang):
        match = pattern.match(text)
        if match:
            values = dict(zip(names, match.groups(), strict=True))
            for name in _PHRASES.intersection(values):  # a phrase of ours inside a message
                values[name] = translate(values[name])
            return _fill(target, values)
    return text


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(), m.group()), template)


def translate_error(exc: Any) -> str:
    """A ``DatawheelError`` as one line in the interface language: where, what and the fix."""
    message = translate(exc.message)
    text = f"{exc.where}: {message}" if exc.where else message
    if exc.hint:
        text += _(" (hint: {hint})").replace("{hint}", translate(exc.hint))
    return text


@cache
def _catalog(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


@cache
def _templates(lang: str) -> list[tuple[re.Pattern[str], list[str], str]]:
    """(regex of the msgid, its placeholders in order, msgstr) for templated entries, longest
    literal text first so the most specific template wins."""
    catalog = _catalog(lang)
    entries = getattr(catalog, "_catalog", {})
    out = []
    for msgid, msgstr in entries.items():
        if not isinstance(msgid, str) or not msgid or not _PLACEHOLDER.search(msgid):
            continue
        names = _PLACEHOLDER.findall(msgid)
        pieces = _PLACEHOLDER.split(msgid)
        body = "(.*?)".join(re.escape(p) for p in pieces)
        literal = sum(len(p) for p in pieces)
        out.append((literal, re.compile(f"^{body}$", re.DOTALL), names, msgstr))
    out.sort(key=lambda entry: -entry[0])
    return [(pattern, names, msgstr) for _, pattern, names, msgstr in out]
