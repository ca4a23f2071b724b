"""``datawheel serve --workers 2`` as a user runs it: a real process tree on a free port, the
fast HTTP stack, traffic through both workers' shared database, and a clean stop that flushes
every worker's prediction log and hands its unspent quota back."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from datawheel.serve.background import bind_socket
from datawheel.store.db import predictions, quota_counters
from waiting import wait_until

from .conftest import ROW

pytestmark = pytest.mark.e2e  # a `datawheel serve` process tree


def _free_port() -> int:
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    def ready() -> bool:
        assert proc.poll() is None, proc.stdout.read()
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, what="datawheel serve to answer /readyz", timeout=120, every=0.2)


def test_serve_when_two_workers_then_fast_stack_traffic_and_clean_stop(make_api):
    api = make_api(start=False)  # tenants and keys only; the CLI starts the server
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "serve", "--port", str(port), "--workers", "2",
         "-c", str(api.project.path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        _wait_healthy(url, proc)
        headers = {"Authorization": f"Bearer {api.keys['acme'].secret}"}

        def predict(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                return client.post("/v1/predict", json={"rows": [{**ROW, "age": 20 + i}]})

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(predict, range(40)))
        assert [r.status_code for r in responses] == [200] * 40
        ids = {r.json()["predictions"][0]["id"] for r in responses}
        assert len(ids) == 40
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert "2 workers, httptools + uvloop" in output, output
    assert "warning" not in output.lower(), output
    with api.ws.engine.connect() as conn:
        logged = set(conn.execute(sa.select(predictions.c.id)).scalars())
        reserved = conn.execute(sa.select(sa.func.sum(quota_counters.c.reserved))).scalar()
    assert logged == ids  # both workers flushed their write-behind on the way out
    assert reserved == 40  # … and handed unspent quota leases back


def test_serve_when_champion_file_corrupted_then_exits_with_one_line(project_copy):
    from datawheel.project.pipeline import Project
    from datawheel.registry.versions import get_version

    ws = Project.load(project_copy).open_workspace()
    try:
        path = ws.artifacts.path(get_version(ws, "champion").artifact)
    finally:
        ws.close()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    result = subprocess.run(
        [sys.executable, "-m", "datawheel", "serve", "--port", str(_free_port()), "--workers",
         "2", "-c", str(project_copy)],
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "DATAWHEEL_ROLE"},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the champion v1 cannot be loaded")
    assert "rollback" in lines[0] and "Serving" not in result.stdout


def _scrape(url: str) -> str:
    with httpx.Client(timeout=30) as client:  # a new connection: either worker may answer
        return client.get(f"{url}/metrics").text


def _sample(body: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", body, re.M)
    return float(found.group(1)) if found else 0.0


def _per_worker(directory: Path, name: str) -> dict[int, float]:
    """``name`` in each worker's own counter file, read by prometheus_client itself."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        alone = path.parent.parent / f"alone-{path.stem}"
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        body = generate_latest(_collector(alone)).decode()
        counts[int(path.stem.split("_")[-1])] = _sample(body, name)
    return counts


def _pids(directory: Path, kind: str) -> set[int]:
    return {int(p.stem.split("_")[-1]) for p in directory.glob(f"{kind}_*.db")}


def _collector(path: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    return registry


@pytest.mark.slow
def test_metrics_when_two_workers_served_then_every_scrape_counts_both_and_survives_a_kill(
    make_api, tmp_path
):
    api = make_api(start=False)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    tmp = tmp_path / "tmp"  # where the server makes its metrics directory
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "serve", "--port", str(port), "--workers", "2",
         "-c", str(api.project.path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    predicted = 'datawheel_requests_total{endpoint="predict",status="200"}'
    try:
        _wait_healthy(url, proc)
        [directory] = tmp.glob("datawheel-metrics-*")
        headers = {"Authorization": f"Bearer {api.keys['acme'].secret}"}
        sent = 0

        def predict(i: int) -> int:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                row = {**ROW, "age": 20 + i % 50}
                return client.post("/v1/predict", json={"rows": [row]}).status_code

        def both_served() -> bool:  # new connections, until the kernel gave each worker some
            nonlocal sent
            with ThreadPoolExecutor(max_workers=8) as pool:
                assert set(pool.map(predict, range(40))) == {200}
            sent += 40
            counts = _per_worker(directory, predicted)
            return len(counts) == 2 and all(counts.values())

        wait_until(both_served, what="traffic on both workers", timeout=120, every=0)
        # each worker publishes its counts every PUBLISH_SECONDS: wait for the last of them
        wait_until(lambda: _sample(_scrape(url), predicted) == sent, what="every count published")
        for _ in range(10):  # whichever worker answers, it counts both
            body = _scrape(url)
            assert _sample(body, predicted) == sent
            assert _sample(body, "datawheel_workers") == 2
        assert sum(_per_worker(directory, predicted).values()) == sent

        before = _pids(directory, "gauge_livesum")
        victim = min(_per_worker(directory, predicted))
        os.kill(victim, signal.SIGKILL)  # uvicorn starts a new worker in its place
        wait_until(
            lambda: _pids(directory, "gauge_livesum") - before,
            what="a replacement worker",
            timeout=120,
        )
        for _ in range(10):  # the dead worker's counts stay; its live gauge goes
            body = _scrape(url)
            assert _sample(body, predicted) == sent
            assert _sample(body, "datawheel_workers") == 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
    assert not directory.exists()  # removed when the server stopped


@pytest.mark.slow
def test_metrics_when_one_worker_then_served_from_the_metrics_directory(make_api, tmp_path):
    """One worker runs in the serving process itself, which imported the CLI first."""
    api = make_api(start=False)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "serve", "--port", str(port), "-c",
         str(api.project.path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    try:
        _wait_healthy(url, proc)
        headers = {"Authorization": f"Bearer {api.keys['acme'].secret}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for i in range(3):
                assert client.post(
                    "/v1/predict", json={"rows": [{**ROW, "age": 30 + i}]}
                ).is_success
        [directory] = tmp.glob("datawheel-metrics-*")
        body = _scrape(url)  # the answering worker publishes its counts first
        assert _sample(body, 'datawheel_requests_total{endpoint="predict",status="200"}') == 3
        assert _sample(body, "datawheel_workers") == 1
        assert _pids(directory, "counter") == {proc.pid}  # values kept in the directory
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert "warning" not in output.lower(), output
    assert not directory.exists()
