"""Serving throughput: datawheel's API against the spec's Flask app (threaded and gunicorn -w 2)
and BentoML 1.4, on the same MLP, over loopback, one after the other.

    OMP_NUM_THREADS=1 python benchmarks/bench_serve.py [--duration 15] [--only datawheel,flask]

Load: ``wrk -t1 -c16 -d15s --latency`` (16 closed-loop connections, keep-alive), each request one
row. datawheel runs as ``datawheel serve --workers 2`` with a key, rate limit, monthly quota,
metering and the prediction log all on; the peers do none of that. datawheel is measured twice:
with keep-alive, and with ``Connection: close`` (a new connection per request, so the kernel
spreads them over both workers; with keep-alive it may land them unevenly). BentoML needs its
own venv (``--bento-python``, default /tmp/bentovenv/bin/python) because its pins clash with
ours. ``--src OLD/src`` serves another checkout (a baseline, e.g. before a change), and the last
column, the server's CPU time per request (all its processes), compares two builds even when
other work shares the cores and req/s moves with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
PEERS = HERE / "serve_peers"
BENCH_PLAN = "    bench: {requests_per_minute: 100000000, monthly_quota: 1000000000}\n"


def build_project(root: Path) -> tuple[Path, dict, str]:
    """The income example trained briefly (as in the tests); a tenant on a bench plan; a key."""
    from datawheel.io import read_table, write_table
    from datawheel.project.pipeline import Project
    from datawheel.project.scaffold import init_project
    from datawheel.serve.tenants import create_key, create_tenant

    project_file = init_project(root / "income")
    data = project_file.parent / "data" / "adult.csv.gz"
    frame = read_table(data).head(2000)
    write_table(frame, data)
    text = project_file.read_text().replace("epochs: 30", "epochs: 3")
    text = text.replace("  plans:\n", "  plans:\n" + BENCH_PLAN)
    project_file.write_text(text)
    project = Project.load(project_file)
    project.run()
    ws = project.open_workspace()
    create_tenant(ws, "bench", plan="bench", plans=list(project.config.serve.plans))
    key = create_key(ws, tenant="bench", role="service").secret
    ws.close()
    from datawheel.registry.versions import load_model

    model = load_model("champion", workspace=project.workspace_dir)
    row = {k: v for k, v in frame.row(0, named=True).items() if k in model.input_schema}
    return project_file, row, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    # Server logs go to a file: an unread pipe fills up and blocks a server that logs every
    # request (Werkzeug does), which would measure the pipe, not the server.
    log = tempfile.NamedTemporaryFile(prefix="dw-bench-server-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, cwd=cwd, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    proc.log_path = log.name  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen) -> None:
    """The whole process group (workers included): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_ready(url: str, body: bytes, headers: dict, proc: subprocess.Popen, timeout=120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(proc.log_path).read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]
            raise RuntimeError(f"server exited: {tail}")
        try:
            if httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def wrk(url: str, body: bytes, headers: dict, duration: int) -> dict:
    lua = "wrk.method = 'POST'\nwrk.body = [==[" + body.decode() + "]==]\n"
    lua += "".join(f"wrk.headers['{k}'] = '{v}'\n" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{duration}s", "--latency", "-s", f.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(f.name)

    def ms(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": int(bad.group(1)) if bad else 0,
    }


def session_cpu(session: int) -> float:
    """CPU seconds (user + system) used so far by the processes of one session: a server and
    its workers (started with start_new_session). Unlike req/s it barely moves when other work
    shares the cores, so it compares two builds of the server on a busy machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended
            continue
        if int(fields[3]) == session:  # fields after "(comm)": state, ppid, pgrp, session, …
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def loaded(url: str, body: bytes, headers: dict, duration: int, proc: subprocess.Popen) -> dict:
    """wrk's figures plus the server's CPU per request."""
    before = session_cpu(proc.pid)
    result = wrk(url, body, headers, duration)
    result["cpu_us"] = (session_cpu(proc.pid) - before) / max(result["requests"], 1) * 1e6
    return result


def forward_cost(project_file: Path, row: dict) -> tuple[float, float]:
    """µs per single-row predict_proba call, and µs per row in a batch of 16 (in-process)."""
    import torch

    from datawheel.registry.versions import load_model

    torch.set_num_threads(1)
    model = load_model("champion", workspace=project_file.parent / ".datawheel")
    for _ in range(200):
        model.predict_proba([row])
    n = 3000
    t = time.perf_counter()
    for _ in range(n):
        model.predict_proba([row])
    single = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n // 16):
        model.predict_proba([row] * 16)
    batched = (time.perf_counter() - t) / (n // 16 * 16) * 1e6
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="datawheel,flask,gunicorn,bentoml")
    parser.add_argument("--bento-python", default="/tmp/bentovenv/bin/python")
    parser.add_argument("--keep", action="store_true", help="keep the temp project")
    parser.add_argument(
        "--src", type=Path, default=SRC, help="the datawheel source the server runs (a baseline)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    root = Path(tempfile.mkdtemp(prefix="dw-bench-serve-"))
    print("training the benchmark model …", flush=True)
    project_file, row, key = build_project(root)
    workspace = str(project_file.parent / ".datawheel")
    body = json.dumps({"rows": [row]}).encode()
    single, batched = forward_cost(project_file, row)
    py = sys.executable
    bento_py = Path(args.bento_python)
    pythonpath = f"{args.src.resolve()}{os.pathsep}{PEERS}"
    env = {"OMP_NUM_THREADS": "1", "DW_BENCH_WORKSPACE": workspace, "PYTHONPATH": pythonpath}
    json_h = {"Content-Type": "application/json"}
    servers = {
        "datawheel": (
            lambda p: [py, "-m", "datawheel", "serve", "--port", str(p),
                       "--workers", str(args.workers), "-c", str(project_file)],
            "/v1/predict", {**json_h, "Authorization": f"Bearer {key}"},
        ),
        "flask": (lambda p: [py, str(PEERS / "flask_app.py"), "--port", str(p)], "/predict",
                  json_h),
        "gunicorn": (
            lambda p: [py, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{p}",
                       "--log-level", "warning", "flask_app:app"],
            "/predict", json_h,
        ),
        "bentoml": (
            lambda p: [str(bento_py), "-m", "bentoml", "serve", "bento_service:Predictor",
                       "--host", "127.0.0.1", "--port", str(p)],
            "/predict", json_h,
        ),
    }  # fmt: skip
    results: dict[str, dict] = {}
    for name in args.only.split(","):
        if name == "bentoml" and not bento_py.exists():
            print(f"skipping bentoml: {bento_py} not found (see the module docstring)")
            continue
        command, path, headers = servers[name]
        port = free_port()
        proc = start(command(port), env, PEERS)
        url = f"http://127.0.0.1:{port}{path}"
        try:
            print(f"{name}: starting on {port} …", flush=True)
            wait_ready(url, body, headers, proc)
            wrk(url, body, headers, 3)  # warm-up
            results[name] = loaded(url, body, headers, args.duration, proc)
            print(f"{name}: {results[name]}", flush=True)
            if name == "datawheel":
                closing = {**headers, "Connection": "close"}
                results["datawheel (close)"] = loaded(url, body, closing, args.duration, proc)
                print(f"datawheel (close): {results['datawheel (close)']}", flush=True)
        except Exception as exc:  # report the others even if one peer fails
            print(f"{name}: FAILED {exc}", flush=True)
        finally:
            stop(proc)
        time.sleep(1)
    print()
    print(f"forward pass in-process: {single:.0f} µs per single-row call; "
          f"{batched:.1f} µs per row in batches of 16 (limit ≈ {1e6 / single:,.0f} req/s "
          "per core unbatched)")  # fmt: skip
    print(f"{'server':<19}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
          f"{'dw ×':>7}{'CPU µs/req':>12}")  # fmt: skip
    dw = results.get("datawheel", {}).get("rps")
    for name, r in results.items():
        ratio = f"{dw / r['rps']:.2f}" if dw else "-"
        print(f"{name:<19}{r['rps']:>10,.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}"
              f"{ratio:>7}{r['cpu_us']:>12,.0f}")  # fmt: skip
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
