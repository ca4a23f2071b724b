"""Every word a console page shows goes through the catalog: no English left bare in the
templates (text between tags, or a placeholder, title, label or confirmation in an attribute).
The catalog test (tests/i18n) then checks each of those messages has its Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datawheel.cli.messages import TEMPLATES

# words that stay as they are in every language: the product, units, protocols, code
KEPT = {"datawheel", "UTC", "PSI", "p", "dw_", "v", "API", "CSV", "English"}
SAMPLES = {"model.", "user:", "enterprise", "ana@acme.example"}  # typed as they are
_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_VERBATIM = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.DOTALL)
_SHOWN = re.compile(r'\b(placeholder|title|aria-label|alt|data-confirm|label)="([^"]*)"')
_TAG = re.compile(r"<[^>]*>")


def _bare_words(source: str) -> list[str]:
    text = _JINJA.sub(" ", source)
    text = _VERBATIM.sub(" ", text)
    shown = [value for _name, value in _SHOWN.findall(text) if value not in SAMPLES]
    text = _TAG.sub(" ", text)
    words = re.findall(r"[A-Za-z][A-Za-z_]*", " ".join([text, *shown]))
    return [w for w in words if w not in KEPT]


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_template_when_read_then_no_english_outside_the_catalog(template: Path) -> None:
    assert _bare_words(template.read_text(encoding="utf-8")) == []
