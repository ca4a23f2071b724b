"""Collect the interface's messages from the source into the catalogs (a developer's tool).

The messages are found where they are written, so no call site needs marking:

- ``_("…")`` anywhere (report and card labels, fixed phrases);
- every ``DatawheelError`` raised or built: its message and its ``hint``, f-strings as
  templates (``f"file {path} not found"`` → ``file {path} not found``);
- what the CLI prints (``console.print``, ``typer.echo``, table titles and column names);
- every command's help and every option's help, read from the live command tree;
- the web console's Jinja2 templates: every ``_("…")`` (Babel's Jinja2 extractor), its
  ``{placeholders}`` filled by keyword (``_("of {quota} rows", quota=…)``).

``python -m datawheel.cli.messages`` (``make i18n``) rewrites
``i18n/locales/<lang>/LC_MESSAGES/datawheel.po`` (keeping existing translations, dropping
messages no longer in the source) and compiles the ``.mo`` next to it; the ``.mo`` is
committed so that nothing is compiled at install or run time (a test checks it matches the
``.po``). Needs Babel (the ``dev`` extra). A layer-6 module: it reads the live command tree.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from datawheel.i18n.catalog import DOMAIN, LOCALE_DIR

__all__ = [
    "compile_catalog",
    "extract_messages",
    "help_texts",
    "template_messages",
    "update_catalog",
]

SRC = Path(__file__).resolve().parents[1]  # src/datawheel
TEMPLATES = SRC / "console" / "templates"
_PRINTERS = {"print", "echo", "status", "update", "add_column", "rule"}
_PLOTS = {"bar_chart", "grouped_bar_chart", "line_chart", "histogram", "confusion_matrix_chart",
          "calibration_chart"}  # fmt: skip
_LABEL_KEYWORDS = {"title", "xlabel", "ylabel", "note", "subtitle"}
_LOGS = {"info", "warning", "error"}  # log.info/warning/error: the CLI prints them
# phrases that are data or syntax, not interface text
_SKIP = {"", "\n", " ", "—", ", ", "; ", ": "}


def extract_messages(root: Path = SRC) -> dict[str, list[str]]:
    """Every message in the source under ``root``: msgid → ["file:line", …], in source order."""
    found: dict[str, list[str]] = {}
    errors = _error_classes(root)
    for path in sorted(root.rglob("*.py")):
        if path.name == "messages.py" and path.parent.name == "cli":
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        in_cli = path.parent.name == "cli"
        renders = any(m in source for m in ("datawheel.report", "datawheel.evaluate.card"))
        renders = renders or path.parent.name == "report"
        own = path.parent.name == "report"  # the renderer itself: its dicts are settings
        where = path.relative_to(root.parent).as_posix()
        for node, text in _messages(tree, errors, in_cli, renders, own):
            literal = re.sub(r"\{[^{}]*\}", "", text)
            if text.strip() not in _SKIP and any(c.isalpha() for c in literal):
                line = getattr(node, "lineno", 0)
                found.setdefault(text, []).append(f"{where}:{line}")
    return found


def template_messages(root: Path = TEMPLATES) -> dict[str, list[str]]:
    """Every ``_("…")`` of the console's templates: msgid → ["file:line", …]. A call whose
    first argument is not a literal (``_(v.stage)``) translates words put in the catalog
    elsewhere (``N_``), and is skipped here."""
    from jinja2.ext import babel_extract

    found: dict[str, list[str]] = {}
    for path in sorted(root.glob("*.html")):
        where = path.relative_to(SRC.parent).as_posix()
        with path.open("rb") as handle:
            for line, _func, message, _comments in babel_extract(handle, ("_",), [], {}):
                text = message[0] if isinstance(message, tuple) else message
                if isinstance(text, str) and text.strip() not in _SKIP:
                    found.setdefault(text, []).append(f"{where}:{line}")
    return found


def help_texts() -> dict[str, list[str]]:
    """The help of every command, group and option of the ``datawheel`` command."""
    import typer

    from datawheel.cli.main import app

    found: dict[str, list[str]] = {}
    command: Any
    for name, command in _walk(typer.main.get_command(app), "datawheel"):
        for text in (command.help, getattr(command, "short_help", None)):
            if text:
                found.setdefault(text, []).append(f"command {name}")
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                found.setdefault(text, []).append(f"option {name} {param.name}")
    return found


def update_catalog(lang: str = "zh_CN") -> Path:
    """Rewrite ``lang``'s .po from the source (translations kept) and compile its .mo."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    po_path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    old = read_po(po_path.open("rb")) if po_path.exists() else Catalog(locale=lang)
    messages = {**extract_messages(), **template_messages(), **help_texts()}
    new = Catalog(locale=lang, project="datawheel", domain=DOMAIN, fuzzy=False)
    for msgid, places in messages.items():
        previous = old.get(msgid)
        string = previous.string if previous is not None else ""
        new.add(msgid, string, locations=[(p, 0) for p in places[:3]])
    po_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, new, width=100, omit_header=False, sort_output=False)
    po_path.write_bytes(buffer.getvalue())
    compile_catalog(po_path)
    return po_path


def compile_catalog(po_path: Path) -> bytes:
    """The .mo bytes of a .po, written beside it; an entry without translation is left out."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(po_path.open("rb"))
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    po_path.with_suffix(".mo").write_bytes(buffer.getvalue())
    return buffer.getvalue()


# --- the source -----------------------------------------------------------------------------


def _error_classes(root: Path) -> set[str]:
    """Names of DatawheelError and every class deriving from it anywhere in the source."""
    known = {"DatawheelError"}
    classes: list[tuple[str, list[str]]] = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                classes.append((node.name, [_name(b) for b in node.bases]))
    grew = True
    while grew:
        grew = False
        for name, bases in classes:
            if name not in known and any(b in known for b in bases):
                known.add(name)
                grew = True
    return known


def _messages(
    tree: ast.AST, errors: set[str], in_cli: bool, renders: bool, own: bool = False
) -> Iterator[tuple[ast.AST, str]]:
    if renders:
        yield from _report_labels(tree, dict_keys=not own)
    assigned: dict[str, list[ast.AST]] = {}  # name → values given to it (``hint = f"…"``)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                assigned.setdefault(target.id, []).append(node.value)

    def texts(at: ast.AST, value: ast.AST) -> Iterable[tuple[ast.AST, str]]:
        for given in assigned.get(value.id, []) if isinstance(value, ast.Name) else [value]:
            yield from _texts(at, given)

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in errors:
            for call in ast.walk(node):  # super().__init__(message, ...) inside the class
                if isinstance(call, ast.Call) and _name(call.func) == "__init__" and call.args:
                    yield from _texts(call, call.args[0])
        if isinstance(node, ast.Call):
            func = _name(node.func)
            if func in ("_", "N_") and node.args:
                yield from _texts(node, node.args[0])
            elif func in errors:
                if node.args:
                    yield from texts(node, node.args[0])
                for keyword in node.keywords:
                    if keyword.arg in ("hint", "purpose"):
                        yield from texts(node, keyword.value)
            elif func in _LOGS and _name(getattr(node.func, "value", node)) == "log" and node.args:
                first = node.args[0]  # log.info("%s: read as %s", …): placeholders {0}, {1}
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield node, _numbered(first.value)
            elif in_cli and (func in _PRINTERS or func == "Table") and node.args:
                yield from _texts(node, node.args[0])
            if in_cli and func == "Table":
                for keyword in node.keywords:
                    if keyword.arg == "title":
                        yield from _texts(node, keyword.value)
        if in_cli and isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple | ast.List):
            words = [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
            if words and all(isinstance(w, str) for w in words):
                yield from ((node, str(w)) for w in words)


def _report_labels(tree: ast.AST, *, dict_keys: bool) -> Iterator[tuple[ast.AST, str]]:
    """What a page shows as labels (translated where it is rendered, ``report.html`` and
    ``report.plots``): section headings and notes, page titles, chart titles and axes, the
    keys of the tables' rows and their column lists, and the plots' default titles."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = _name(node.func)
            if func in ("Section", "render_page") and node.args:
                yield from _texts(node, node.args[0])
            if func == "_labels":
                for arg in node.args[1:]:
                    yield from _texts(node, arg)
            if func in ("Section", "render_page", "_canvas", *_PLOTS, "table", "_labels"):
                for keyword in node.keywords:
                    if keyword.arg in _LABEL_KEYWORDS:
                        yield from _texts(node, keyword.value)
                    if keyword.arg == "columns" and isinstance(keyword.value, ast.List):
                        for element in keyword.value.elts:
                            yield from _texts(node, element)
        elif isinstance(node, ast.Dict) and dict_keys:
            for key in node.keys:
                if key is not None:
                    yield from _texts(node, key)
        elif isinstance(node, ast.FunctionDef) and node.name in _PLOTS:
            for parameter, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                if parameter.arg == "title" and default is not None:
                    yield from _texts(node, default)


def _texts(at: ast.AST, node: ast.AST) -> Iterable[tuple[ast.AST, str]]:
    """The message (or both branches of ``a if c else b``) as templates."""
    if isinstance(node, ast.IfExp):
        yield from _texts(at, node.body)
        yield from _texts(at, node.orelse)
        return
    text = _template(node)
    if text is not None:
        yield at, text


def _template(node: ast.AST) -> str | None:
    """A string literal, an f-string (its expressions as ``{source}`` placeholders) or a sum
    of them; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value  # braces here are placeholders filled by .format or .replace
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                if "{" in str(value.value) or "}" in str(value.value):
                    return None  # literal braces would read as placeholders
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(_placeholder(value))
        text = "".join(parts)
        return None if _nested(text) else text
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else _opaque(node.left)) + (
            right if right is not None else _opaque(node.right)
        )  # "rows removed: " + ", ".join(...) → "rows removed: {', '.join(...)}"
    return None


def _opaque(node: ast.AST) -> str:
    """A computed part of a message as one placeholder named by its source."""
    return "{" + ast.unparse(node).replace("{", "(").replace("}", ")") + "}"


def _numbered(text: str) -> str:
    """A %-format log message with its ``%s`` as ``{0}``, ``{1}``, …"""
    pieces = re.split(r"%[sdr]", text)
    return "".join(p + (f"{{{i}}}" if i < len(pieces) - 1 else "") for i, p in enumerate(pieces))


def _placeholder(value: ast.FormattedValue) -> str:
    text = ast.unparse(value.value)
    if value.conversion != -1:
        text += "!" + chr(value.conversion)
    if value.format_spec is not None:
        spec = "".join(
            str(v.value) if isinstance(v, ast.Constant) else "{}"
            for v in value.format_spec.values  # type: ignore[attr-defined]
        )
        text += ":" + spec
    return "{" + text.replace("{", "(").replace("}", ")") + "}"


def _nested(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "{") - (char == "}")
        if depth > 1 or depth < 0:
            return True
    return depth != 0


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _walk(command: object, name: str) -> Iterator[tuple[str, object]]:
    yield name, command
    for sub_name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, f"{name} {sub_name}")


if __name__ == "__main__":
    for lang in sys.argv[1:] or ["zh_CN"]:
        path = update_catalog(lang)
        print(f"updated {path} and its .mo")
