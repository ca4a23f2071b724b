"""The Ray engine on a real two-node cluster (127.0.0.1): the same kept rows as the local
engine, every node on loopback, and a clear error when Ray is not installed."""

from __future__ import annotations

import os
import sys

import numpy as np
import polars as pl
import pytest

from datawheel.data.dedup import dedup_with_stats
from datawheel.errors import MissingDependencyError


def _corpus(n: int = 240, seed: int = 7) -> pl.DataFrame:
    """Documents of 40 words; a third are edited copies (1-6 words changed), some exact
    copies with other spacing and case, some empty."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(3000)]
    docs: list[str | None] = []
    for i in range(n):
        if i > 10 and i % 3 == 0:
            words = docs[int(rng.integers(0, i))]
            words = (words or "alpha beta").split()
            for _ in range(int(rng.integers(1, 7))):
                words[int(rng.integers(0, len(words)))] = vocab[int(rng.integers(0, 3000))]
            docs.append(" ".join(words))
        elif i > 10 and i % 17 == 0:
            docs.append("  " + (docs[i - 5] or "").upper() + " ")
        elif i % 50 == 0:
            docs.append(None if i % 100 == 0 else "")
        else:
            docs.append(" ".join(rng.choice(vocab, 40)))
    return pl.DataFrame({"id": list(range(n)), "text": docs})


def test_ray_cluster_when_started_then_every_node_reports_loopback(ray_cluster):
    from datawheel.data.ray_engine import connect

    ray = connect(ray_cluster.address)
    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 2
    assert {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # each Ray Data shuffle costs seconds of scheduling on a 2-core box
def test_dedup_on_ray_when_near_and_exact_copies_then_kept_rows_equal_local(ray_cluster):
    from datawheel.data.ray_engine import dedup_on_ray

    frame = _corpus()
    local, _, local_stats = dedup_with_stats(frame, text="text", threshold=0.7)
    on_ray, stats = dedup_on_ray(frame, text="text", threshold=0.7, address=ray_cluster.address)
    assert local_stats.near_duplicates > 10 and local_stats.exact_duplicates > 5
    assert on_ray["id"].to_list() == local["id"].to_list()
    assert on_ray.columns == frame.columns
    assert (stats.exact_duplicates, stats.near_duplicates) == (
        local_stats.exact_duplicates,
        local_stats.near_duplicates,
    )


def test_require_ray_when_not_installed_then_error_names_the_extra(monkeypatch):
    from datawheel.data.ray_engine import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray sees
    with pytest.raises(MissingDependencyError, match=r"datawheel\[ray\]"):
        require_ray()


def test_dedup_cli_when_ray_missing_then_exit_2_naming_the_extra(tmp_path):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["a b c", "a b c"]}).write_csv(source)
    without_ray = (
        "import sys; sys.modules['ray'] = None; from datawheel.cli.main import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_ray, "dedup", str(source), "-o", str(tmp_path / "o.csv"),
         "--text-field", "text", "--engine", "ray"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'datawheel[ray]'" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_dedup_cli_when_engine_unknown_then_exit_2(tmp_path):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["a b c"]}).write_csv(source)
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "dedup", str(source), "-o", str(tmp_path / "o.csv"),
         "--text-field", "text", "--engine", "spark"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "use local or ray" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("command", "name"),
    [(["clean"], "clean"), (["pii", "scan"], "pii scan"), (["anonymize"], "anonymize")],
)
def test_local_only_commands_when_engine_ray_then_exit_2_saying_what_runs_on_ray(
    tmp_path, command, name
):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["mail a@b.io"]}).write_csv(source)
    args = [*command, str(source), "-o", str(tmp_path / "o.csv"), "--engine", "ray"]
    env = {**os.environ, "DATAWHEEL_ROLE": "engineer"}  # anonymize needs a role (store.roles)
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert f"datawheel {name} runs on the local engine only" in " ".join(out.split())


def test_pii_scan_cli_when_engine_local_then_scans(tmp_path):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["mail ada@example.com"]}).write_csv(source)
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "pii", "scan", str(source), "-o",
         str(tmp_path / "s.jsonl"), "--text-field", "text", "--engine", "local"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"EMAIL"' in (tmp_path / "s.jsonl").read_text()
