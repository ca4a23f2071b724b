"""The serving request path in-process: CPU time per ``POST /v1/predict`` sent straight into the
app's ASGI entry — key check, quota and rate leases, validation, anonymization, micro-batch,
model, write-behind log, metering, metrics — with no sockets and no load generator.

    OMP_NUM_THREADS=1 python benchmarks/bench_serve_path.py [--requests 3000] [--rounds 3]
        [--baseline-src OLD/src]

It complements ``bench_serve.py``: on a machine other work shares, wrk's req/s and the server's
CPU per request move by tens of percent from run to run; one process on one core, its CPU time
measured by ``time.process_time`` (every thread of it), compares two builds of the request path
to a few percent. Each build runs in its own process, rounds alternating, and serves the metrics
as ``datawheel serve`` does (``PROMETHEUS_MULTIPROC_DIR`` set). Each build trains its own copy
of the project (same data, same seed), so a baseline of an older workspace schema runs too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))

# One build's measurement, run with PYTHONPATH at its src: prints "cpu_us wall_us".
_MEASURE = """
import asyncio, json, sys, time
import torch
torch.set_num_threads(1)
from pathlib import Path
from datawheel.config import load_config
from datawheel.serve.app import create_app
from datawheel.store.workspace import Workspace
project_file, key = Path(sys.argv[1]), sys.argv[2]
row, n = json.loads(sys.argv[3]), int(sys.argv[4])
config = load_config(project_file, check_source=False)
ws = Workspace.open(project_file.parent / ".datawheel", key_dir=project_file.parent, actor="api")
app = create_app(config, ws)
body = json.dumps({"rows": [row]}).encode()
scope = {"type": "http", "method": "POST", "path": "/v1/predict",
         "headers": [(b"authorization", f"Bearer {key}".encode())]}
async def receive():
    return {"type": "http.request", "body": body, "more_body": False}
async def one():
    status = []
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    assert status == [200], status
async def run():
    for _ in range(300):
        await one()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await one()
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6
cpu_us, wall_us = asyncio.run(run())
app.state.service.close()
ws.close()
print(f"{cpu_us:.1f} {wall_us:.1f}")
"""


def measure(src: Path, project_file: Path, key: str, row: dict, requests: int) -> float:
    metrics_dir = tempfile.mkdtemp(prefix="dw-bench-metrics-")
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
           "PROMETHEUS_MULTIPROC_DIR": metrics_dir}  # fmt: skip
    try:
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(project_file), key,
             json.dumps(row, default=str), str(requests)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return float(out.split()[0])


_BUILD = """
import json, sys
from pathlib import Path
from bench_serve import build_project
project_file, row, key = build_project(Path(sys.argv[1]))
print(json.dumps([str(project_file), row, key], default=str))
"""


def build(src: Path, root: Path) -> tuple[Path, dict, str]:
    """The benchmark project trained by the build at ``src`` (its own schema and code)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(HERE)]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", _BUILD, str(root)], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    project_file, row, key = json.loads(out.strip().splitlines()[-1])
    return Path(project_file), row, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dw-bench-path-"))
    builds = {"this checkout": SRC}
    if args.baseline_src:
        builds["baseline"] = args.baseline_src.resolve()
    projects = {}
    for i, (name, src) in enumerate(builds.items()):
        print(f"training the benchmark model ({name}) …", flush=True)
        projects[name] = build(src, root / str(i))
    found: dict[str, list[float]] = {name: [] for name in builds}
    for _ in range(args.rounds):
        for name, src in builds.items():
            project_file, row, key = projects[name]
            found[name].append(measure(src, project_file, key, row, args.requests))
            print(f"{name}: {found[name][-1]:.0f} µs CPU per request", flush=True)
    print()
    for name, values in found.items():
        print(f"{name:<15} median {statistics.median(values):.0f} µs CPU per request "
              f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip
    if args.baseline_src:
        ratio = statistics.median(found["baseline"]) / statistics.median(found["this checkout"])
        print(f"baseline / this checkout: {ratio:.2f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
