"""CLI start-up: wall time from process start to exit of ``datawheel --help``, ``datawheel status``
on a trained project and ``datawheel pii scan`` on a small file; the median of several runs.

    OMP_NUM_THREADS=1 python benchmarks/bench_cli.py [--runs 9] [--baseline-src OLD/src]

There is no peer tool: the floor is the interpreter itself (``python -c pass``), and the ceiling
what each command paid before imports were made lazy — ``--baseline-src`` runs the same commands
on another checkout's ``src`` (e.g. ``git worktree add /tmp/old bceae84``) in the same run. Each
command also reports which heavy libraries it imported (torch, polars, FastAPI, scikit-learn,
matplotlib …), read from ``sys.modules`` at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
HEAVY = ("torch", "polars", "pyarrow", "fastapi", "uvicorn", "sklearn", "scipy", "matplotlib",
         "pandas", "alembic", "prometheus_client")  # fmt: skip

# Runs the CLI in this interpreter and, at exit, writes the heavy modules it imported to the
# pipe whose descriptor DW_PROBE_FD names.
_PROBE = """
import atexit, os, runpy, sys
heavy = {heavy!r}
def report():
    with os.fdopen(int(os.environ["DW_PROBE_FD"]), "w") as out:
        out.write(",".join(m for m in heavy if m in sys.modules))
atexit.register(report)
sys.argv = ["datawheel", *sys.argv[1:]]
runpy.run_module("datawheel", run_name="__main__")
"""


def build_project(root: Path) -> Path:
    """The bundled income example, trained briefly (as in the tests); status computed once so
    the timed runs read the stored drift reference like any later call."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "datawheel"]
    subprocess.run([*cli, "init", str(root / "income")], env=env, check=True, capture_output=True)
    project = root / "income"
    text = (project / "datawheel.yaml").read_text().replace("epochs: 30", "epochs: 2")
    (project / "datawheel.yaml").write_text(text)
    subprocess.run([*cli, "run"], cwd=project, env=env, check=True, capture_output=True)
    return project


def tickets(project: Path, rows: int = 50) -> Path:
    """Free text from the bundled example's Faker-made PII columns, one JSON line per row."""
    import polars as pl

    frame = pl.read_csv(project / "data" / "adult.csv.gz").head(rows)
    path = project / "tickets.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in frame.iter_rows(named=True):
            message = f"I am {r['name']}, mail {r['email']}, phone {r['phone']}, {r['address']}"
            f.write(json.dumps({"message": message}, ensure_ascii=False) + "\n")
    return path


def measure(args: list[str], *, src: Path, cwd: Path, runs: int) -> tuple[float, float, str]:
    """(median wall s, median CPU s, heavy modules imported) of ``datawheel args`` run ``runs``
    times. CPU time (user + system of the process) moves less than wall time when other work
    shares the cores."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "COLUMNS": "100"}
    code = _PROBE.format(heavy=HEAVY)
    times, cpu, imported = [], [], ""
    for _ in range(runs + 1):  # the first run warms the page cache and is not counted
        read, write = os.pipe()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=cwd, pass_fds=(write,),
            env={**env, "DW_PROBE_FD": str(write)},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        os.close(write)
        with os.fdopen(read) as f:
            imported = f.read()
        if proc.returncode != 0:
            sys.exit(f"datawheel {' '.join(args)} failed: {proc.stderr[-500:]}")
        times.append(elapsed)
    return statistics.median(times[1:]), statistics.median(cpu[1:]), imported


def interpreter(runs: int, code: str) -> tuple[float, float]:
    """(median wall s, median CPU s) of ``python -c code``."""
    times, cpu = [], []
    for _ in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times[1:]), statistics.median(cpu[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--keep", action="store_true", help="keep the temp project")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dw-bench-cli-"))
    print("training the benchmark project …", flush=True)
    project = build_project(root)
    texts = tickets(project)
    commands = {
        "--help": ["--help"],
        "status": ["status"],
        "pii scan (50 rows)": ["pii", "scan", str(texts), "-o", str(root / "spans.jsonl"),
                               "--text-field", "message"],
    }  # fmt: skip
    sources = {"this checkout": SRC}
    if args.baseline_src:
        sources["baseline"] = args.baseline_src.resolve()
    first = measure(["status"], src=SRC, cwd=project, runs=1)  # computes the drift reference
    floor = interpreter(args.runs, "pass")
    torch_import = interpreter(args.runs, "import torch")
    print(f"\nwall / CPU ms, median of {args.runs}: python -c pass {floor[0] * 1000:.0f} / "
          f"{floor[1] * 1000:.0f}; python -c 'import torch' {torch_import[0] * 1000:.0f} / "
          f"{torch_import[1] * 1000:.0f}; the first status after training (it computes the "
          f"drift reference) {first[0] * 1000:.0f} / {first[1] * 1000:.0f}\n")  # fmt: skip
    print(f"{'command':<22}{'source':<15}{'wall ms':>9}{'CPU ms':>8}  heavy imports")
    results: dict[tuple[str, str], float] = {}
    for label, argv in commands.items():
        for source, src in sources.items():
            wall, cpu, imported = measure(argv, src=src, cwd=project, runs=args.runs)
            results[(label, source)] = wall
            print(f"{label:<22}{source:<15}{wall * 1000:>9.0f}{cpu * 1000:>8.0f}  "
                  f"{imported or '—'}", flush=True)  # fmt: skip
    if args.baseline_src:
        print()
        for label in commands:
            now, before = results[(label, "this checkout")], results[(label, "baseline")]
            print(f"{label:<22}{before / now:.1f}x faster (wall) than the baseline")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
