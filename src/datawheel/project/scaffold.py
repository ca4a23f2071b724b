"""``datawheel init``: a new project folder from a bundled example, with a fresh secret key."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from datawheel.atomic import atomic_write
from datawheel.errors import UsageError
from datawheel.secret import KEY_FILE, generate_key_file

__all__ = ["EXAMPLES", "example_dir", "init_project"]

EXAMPLES = ("income", "digits")
GITIGNORE = f"# never commit the secret key or the workspace\n{KEY_FILE}\n.datawheel/\n"


def example_dir(name: str) -> Path:
    """The folder of a bundled example inside the installed package."""
    if name not in EXAMPLES:
        raise UsageError(
            f"unknown example {name!r}", where="--example", hint=f"examples: {', '.join(EXAMPLES)}"
        )
    return Path(str(resources.files("datawheel") / "examples" / name))


def init_project(target: Path, *, example: str = "income", force: bool = False) -> Path:
    """Copy the example's project file and data into ``target`` and create ``datawheel.key``.

    Refuses to overwrite an existing project file unless ``force``; an existing key is kept,
    because replacing it would make the workspace's encrypted data unreadable.
    """
    source = example_dir(example)
    target.mkdir(parents=True, exist_ok=True)
    project_file = target / "datawheel.yaml"
    if project_file.exists() and not force:
        raise UsageError(f"{project_file} already exists", hint="use another folder or --force")
    atomic_write(project_file, (source / "datawheel.yaml").read_bytes())
    shutil.copytree(source / "data", target / "data", dirs_exist_ok=True)
    write_key_and_gitignore(target)
    return project_file


def write_key_and_gitignore(target: Path) -> None:
    """A fresh ``datawheel.key`` (kept if present) and a .gitignore that leaves it out."""
    gitignore = target / ".gitignore"
    if not gitignore.exists():
        atomic_write(gitignore, GITIGNORE)
    elif KEY_FILE not in gitignore.read_text(encoding="utf-8").split():
        with gitignore.open("a", encoding="utf-8") as handle:
            handle.write("\n" + GITIGNORE)
    if not (target / KEY_FILE).exists():
        generate_key_file(target / KEY_FILE)
