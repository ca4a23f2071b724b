"""``datawheel serve --workers 2`` as a user runs it: a real process tree on a free port, the
fast HTTP stack, traffic through both workers' shared database, and a clean stop that flushes
every worker's prediction log and hands its unspent quota back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

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
