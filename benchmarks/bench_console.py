"""The console with a real history: page latency over 1,000,000 logged predictions and 100,000
feedback rows, and /v1/predict with and without the console mounted (same run, same data).

    OMP_NUM_THREADS=1 python benchmarks/bench_console.py [--predictions 1000000] [--duration 10]

The server is ``datawheel serve --workers 2`` (then ``--no-console``); the load generator is wrk
(16 connections, single-row requests), as in bench_serve.py. Pages are fetched one at a time by a
signed-in client, 30 times each after one warm-up; p50 and p95 are printed per page.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_serve import build_project, free_port, start, stop, wait_ready, wrk

PASSWORD = "benchmark password"
PAGES = ["/", "/keys", "/usage", "/playground", "/quickstart"]
OPERATOR_PAGES = ["/models", "/models/v1", "/loop", "/loop/jobs", "/monitoring", "/feedback",
                  "/datasets", "/tenants", "/users", "/audit"]  # fmt: skip
ISSUES = ["wrong_label", "slow", "unclear", "offensive", None]


def fill_history(db: Path, row: dict, n_predictions: int, n_feedback: int) -> None:
    """Predictions over the last 30 days for three tenants, feedback on a random tenth of them,
    the matching usage counters (with 1 % refused requests), and a "last used" for every key;
    written straight into SQLite in large transactions."""
    conn = sqlite3.connect(db)
    tenants = [r[0] for r in conn.execute("SELECT id FROM tenants")]
    now = datetime.now(UTC)
    features, probabilities = json.dumps(row), json.dumps({"<=50K": 0.7, ">50K": 0.3})
    rng = random.Random(7)
    ids: list[tuple[str, str, str]] = []
    batch = []
    usage: dict[tuple[str, str], int] = {}
    for i in range(n_predictions):
        at = now - timedelta(seconds=rng.randrange(30 * 86400))
        pid = f"{int(at.timestamp() * 1000):012x}{i:020x}"
        tenant = tenants[i % len(tenants)]
        label = "<=50K" if rng.random() < 0.7 else ">50K"
        batch.append((pid, tenant, "v1", None, features, label, probabilities, 1.0, 0,
                      at.isoformat(timespec="microseconds"), pid))  # fmt: skip
        usage[(tenant, at.strftime("%Y-%m-%d"))] = (
            usage.get((tenant, at.strftime("%Y-%m-%d")), 0) + 1
        )
        if len(ids) < n_feedback and rng.random() < n_feedback / n_predictions * 1.2:
            ids.append((pid, tenant, label))
        if len(batch) == 50_000:
            conn.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
            conn.commit()
            batch = []
    conn.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
    conn.executemany(
        "INSERT INTO feedback VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (f"f{k:012d}", pid, tenant, None, label if rng.random() < 0.8 else ">50K",
             rng.choice(ISSUES), "a comment", rng.randint(1, 5),
             (now - timedelta(seconds=rng.randrange(30 * 86400))).isoformat())
            for k, (pid, tenant, label) in enumerate(ids)
        ],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO usage (tenant_id, endpoint, day, requests, rows, client_errors, "
        "server_errors) VALUES (?,?,?,?,?,?,?)",
        [(tenant, "predict", day, n, n, n // 100, 0) for (tenant, day), n in usage.items()],
    )
    conn.execute("INSERT INTO api_key_usage SELECT id, ? FROM api_keys", (now.isoformat(),))
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def sign_in(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/console/login", data={"email": email, "password": PASSWORD, "csrf": csrf}
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


def page_times(client: httpx.Client, paths: list[str], repeat: int) -> dict[str, tuple]:
    out = {}
    for path in paths:
        started = time.perf_counter()
        assert client.get(f"/console{path}").status_code == 200, path  # cold: caches empty
        cold = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(f"/console{path}")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        times.sort()
        out[path] = (cold, statistics.median(times), times[int(0.95 * (len(times) - 1))])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    from datawheel.console.accounts import create_user
    from datawheel.project.pipeline import Project
    from datawheel.serve.tenants import create_tenant

    root = Path(tempfile.mkdtemp(prefix="dw-bench-console-"))
    project_file, row, key = build_project(root)
    project = Project.load(project_file)
    with project.open_workspace() as ws:
        plans = list(project.config.serve.plans)
        for name in ("acme", "globex"):
            create_tenant(ws, name, plan="pro", plans=plans)
        create_user(ws, "owner@acme.example", tenant="acme", role="owner", password=PASSWORD)
        create_user(ws, "ops@team.example", tenant="operators", role="admin", password=PASSWORD)
    started = time.perf_counter()
    fill_history(project.workspace_dir / "datawheel.db", row, args.predictions, args.feedback)
    print(f"history: {args.predictions:,} predictions, {args.feedback:,} feedback rows "
          f"({time.perf_counter() - started:.0f} s to write)")  # fmt: skip

    body = json.dumps({"rows": [row]}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    py = sys.executable
    results: dict[str, list[dict]] = {"console mounted": [], "--no-console": []}
    pages: dict[str, tuple] = {}
    rounds = [("--no-console", ["--no-console"]), ("console mounted", [])] * 2  # alternate: noise
    for label, extra in rounds:
        port = free_port()
        command = [py, "-m", "datawheel", "serve", "--port", str(port), "--workers", "2",
                   "-c", str(project_file), *extra]  # fmt: skip
        proc = start(command, {"OMP_NUM_THREADS": "1"}, project_file.parent)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/v1/predict", body, headers, proc)
            results[label].append(wrk(f"{url}/v1/predict", body, headers, args.duration))
            if not extra and not pages:
                for email, paths in (
                    ("owner@acme.example", PAGES),
                    ("ops@team.example", OPERATOR_PAGES),
                ):
                    client = sign_in(url, email)
                    pages.update(page_times(client, paths, args.repeat))
                    client.close()
        finally:
            stop(proc)

    print(f"\n{'page':<22}{'cold ms':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for path, (cold, p50, p95) in pages.items():
        print(f"/console{path:<14}{cold:>9.1f}{p50:>9.1f}{p95:>9.1f}")
    worst = max(p95 for _, _, p95 in pages.values())
    print(f"worst page p95: {worst:.1f} ms (target < 150 ms)")
    print(f"\n{'/v1/predict':<19}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    best = {label: max(runs, key=lambda r: r["rps"]) for label, runs in results.items()}
    for label, runs in results.items():
        for r in runs:
            print(f"{label:<19}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}")
    on, off = best["console mounted"], best["--no-console"]
    print("(best of two alternating runs each)")
    print(
        f"ratio mounted / not: req/s {on['rps'] / off['rps']:.2f}, p99 {on['p99'] / off['p99']:.2f}"
    )


if __name__ == "__main__":
    main()
