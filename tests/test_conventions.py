"""House rules the code itself can check: no failure swallowed without a word."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "datawheel"
BROAD = {"Exception", "BaseException"}


def _swallowing_broad_handlers(path: Path) -> list[str]:
    """Lines of ``except Exception`` / ``except BaseException`` handlers that never re-raise
    and carry no comment on the ``except`` line."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ExceptHandler):
            continue
        if node.type is None:  # a bare except: catches even KeyboardInterrupt
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
            continue
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        if not any(isinstance(n, ast.Name) and n.id in BROAD for n in names):
            continue
        reraises = any(isinstance(n, ast.Raise) for n in ast.walk(node))
        if not reraises and "#" not in lines[node.lineno - 1]:
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_broad_excepts_when_found_then_each_reraises_or_says_why() -> None:
    """A broad handler must hand the error on, or log and count it and say why on its line
    (STYLE: a failure is never both silent and lossy); a bare ``except:`` is never allowed."""
    bare = [hit for path in sorted(SRC.rglob("*.py")) for hit in _swallowing_broad_handlers(path)]
    assert bare == [], f"narrow the except, re-raise, or add a '# why' comment: {bare}"


@pytest.mark.parametrize(
    "package",
    ["datawheel", "datawheel.privacy", "datawheel.evaluate", "datawheel.train", "datawheel.store"],
)
def test_public_names_when_listed_in_all_then_each_resolves(package: str) -> None:
    """Lazy exports point at modules by name: one moved module must not leave a dead entry."""
    module = importlib.import_module(package)
    broken = []
    for name in module.__all__:
        try:
            getattr(module, name)
        except (AttributeError, ImportError):
            broken.append(name)
    assert broken == []
