"""DESIGN.md's layers: imports go downward only; serve and loop never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "datawheel"

# layer of each top-level module or package under datawheel
LAYERS = {
    "errors": 0,
    "client": 0,
    "atomic": 0,
    "config": 0,
    "io": 0,
    "secret": 0,
    "signing": 0,
    "report": 0,
    "i18n": 0,
    "store": 1,
    "data": 2,
    "privacy": 2,
    "train": 3,
    "evaluate": 3,
    "registry": 4,
    "serve": 5,
    "loop": 5,
    "console": 5,
    "project": 6,
    "cli": 6,
    "examples": 6,
    "__main__": 6,
    "__init__": 6,
}

# Only layer-0 modules (and the package's own entry points) may sit loose at the package root.
LOOSE = {"client", "errors", "config", "io", "secret", "signing", "atomic", "__init__", "__main__"}


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("datawheel"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("datawheel")]
    return found


FILES = sorted(p for p in SRC.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {_unit(p) for p in FILES} <= set(LAYERS)


def test_package_root_when_listed_then_holds_only_layer_zero_modules():
    loose = {p.stem for p in SRC.glob("*.py")}
    assert loose <= LOOSE, f"move {sorted(loose - LOOSE)} into the package of its layer"


def test_module_names_when_compared_then_never_collide_with_a_package():
    """A module name says which room you are in: no `x.py` beside an `x/` anywhere in src."""
    for path in FILES:
        assert not (path.parent / path.stem).is_dir(), f"{path} collides with a package"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_when_parsed_then_point_down_or_sideways_only(path: Path):
    unit = _unit(path)
    for module in _imports(path):
        parts = module.split(".")
        if len(parts) == 1:  # `import datawheel` / `from datawheel import __version__`
            continue
        target = parts[1]
        assert LAYERS[target] <= LAYERS[unit], f"{unit} (layer {LAYERS[unit]}) imports {module}"
        if {unit, target} in ({"serve", "loop"}, {"console", "loop"}):
            pytest.fail(f"{unit} imports {module}: the online half and loop meet through store")
        if unit == "serve" and target == "console":
            pytest.fail(f"serve imports {module}: the app factory mounts the console, not serve")


# Module names that repeat on purpose: the same job for another kind of data or another app —
# (data/ and data/media/: augmentation, deduplication, normalization, the PII scan; serve/ and
# console/: the ASGI app). cli/x.py beside project/x.py is the command of that subsystem.
SAME_JOB = {"app", "augment", "dedup", "dedup_file", "normalize", "scan"}


def test_module_names_when_repeated_across_packages_then_the_same_job():
    """#12: no two modules with one name for different things (`serve/metrics` beside
    `evaluate/metrics` read as one thing; it is `serve/prometheus`)."""
    seen: dict[str, list[str]] = {}
    for path in FILES:
        if path.name == "__init__.py" or path.parent.name == "cli":
            continue
        seen.setdefault(path.stem, []).append(str(path.relative_to(SRC)))
    repeated = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert set(repeated) <= SAME_JOB, {n: p for n, p in repeated.items() if n not in SAME_JOB}
