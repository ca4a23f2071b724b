"""The word lists under ``privacy/data/`` that the PERSON recognizers read, loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load_counts", "load_list", "load_pairs"]


@cache
def load_list(name: str) -> frozenset[str]:
    """One of the word lists under ``privacy/data/`` (one entry a line; text after a tab is
    ignored, so a list may carry a count or a tag)."""
    text = resources.files("datawheel.privacy.data").joinpath(name).read_text("utf-8")
    return frozenset(w.split("\t")[0].strip() for w in text.splitlines() if w.strip())


@cache
def load_counts(name: str) -> dict[str, int]:
    """A ``word<TAB>count`` list under ``privacy/data/`` as a dict."""
    text = resources.files("datawheel.privacy.data").joinpath(name).read_text("utf-8")
    out = {}
    for line in text.splitlines():
        word, _, count = line.partition("\t")
        if word.strip():
            out[word.strip()] = int(count or 0)
    return out


@cache
def load_pairs(name: str) -> dict[str, str]:
    """A ``key<TAB>value`` list under ``privacy/data/`` as a dict."""
    text = resources.files("datawheel.privacy.data").joinpath(name).read_text("utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if "\t" in line)
    return {k: v for k, v in pairs}
