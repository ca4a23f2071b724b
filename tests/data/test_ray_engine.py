"""The Ray engine on a real two-node cluster on 127.0.0.1 (tests/services.py, one per session):
the cluster stays on loopback; near-dup removal keeps exactly the local engine's rows, reads
and writes Parquet folders (local and s3://) and names a part it cannot read."""

from __future__ import annotations

import json
import os
import sys

import polars as pl
import pytest

from datawheel.data.dedup import dedup_with_stats
from datawheel.data.dedup_file import dedup_file
from datawheel.errors import DataError
from ray_tables import documents, read_parts, write_parts
from services import cluster_processes, listening_addresses

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_ray_cluster_when_started_then_every_node_and_socket_stays_on_loopback(ray_cluster):
    from datawheel.data.ray_io import connect

    ray = connect(ray_cluster.address)
    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 2
    assert {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}
    assert not ray_cluster.address.endswith(":6379")  # Redis's port stays Redis's
    assert os.environ["RAY_AUTH_MODE"] == "token" and len(os.environ["RAY_AUTH_TOKEN"]) == 64
    listening = listening_addresses(cluster_processes(ray_cluster.marker))
    assert listening and listening <= {"127.0.0.1", "::1"}, listening


def test_dedup_on_ray_when_near_and_exact_copies_then_kept_rows_equal_local(ray_cluster):
    from datawheel.data.ray_engine import dedup_on_ray

    frame = documents()
    local, _, local_stats = dedup_with_stats(frame, text="text", threshold=0.7)
    on_ray, stats = dedup_on_ray(frame, text="text", threshold=0.7, address=ray_cluster.address)
    assert local_stats.near_duplicates > 10 and local_stats.exact_duplicates > 5
    assert on_ray["id"].to_list() == local["id"].to_list()
    assert on_ray.columns == frame.columns
    assert (stats.exact_duplicates, stats.near_duplicates, stats.candidate_pairs) == (
        local_stats.exact_duplicates,
        local_stats.near_duplicates,
        local_stats.candidate_pairs,
    )
    assert stats.rounds >= 1 and set(stats.shuffle_bytes) >= {"buckets", "verification"}


def test_dedup_file_on_ray_when_parquet_folder_then_folder_of_kept_rows_in_order(
    ray_cluster, tmp_path
):
    from datawheel.data.ray_engine import dedup_file_on_ray

    frame = documents(seed=11)
    parts = write_parts(frame, tmp_path / "in", parts=3, group_rows=30)
    seen: list[str] = []
    stats = dedup_file_on_ray(
        parts,
        tmp_path / "out",
        text="text",
        threshold=0.7,
        address=ray_cluster.address,
        clusters=tmp_path / "clusters.jsonl",
        progress=lambda stage, done, total: seen.append(stage),
    )
    frame.write_csv(tmp_path / "docs.csv")
    dedup_file(
        tmp_path / "docs.csv",
        tmp_path / "local.csv",
        text="text",
        threshold=0.7,
        clusters=tmp_path / "local.jsonl",
    )
    kept_ids = pl.read_csv(tmp_path / "local.csv")["id"]
    local = frame.filter(pl.col("id").is_in(kept_ids.implode()))
    written = read_parts(tmp_path / "out")
    assert written.equals(local)
    clusters = (tmp_path / "clusters.jsonl").read_bytes()
    assert clusters == (tmp_path / "local.jsonl").read_bytes()
    manifest = json.loads((tmp_path / "out" / "_datawheel.json").read_text())
    assert manifest["rows"] == stats.kept == local.height
    assert [p["name"] for p in manifest["parts"]] == sorted(p["name"] for p in manifest["parts"])
    assert {"sketching", "bucketing", "verifying", "writing"} <= set(seen)  # progress


def test_dedup_file_on_ray_when_a_part_is_corrupt_then_error_names_the_part(ray_cluster, tmp_path):
    from datawheel.data.ray_engine import dedup_file_on_ray

    parts = write_parts(documents(), tmp_path / "in", parts=3)
    broken = parts / "p1.parquet"
    data = bytearray(broken.read_bytes())
    data[4 : len(data) // 2] = b"\x00" * (len(data) // 2 - 4)  # the pages; the footer stays
    broken.write_bytes(bytes(data))
    with pytest.raises(DataError) as caught:
        dedup_file_on_ray(parts, tmp_path / "o.parquet", text="text", address=ray_cluster.address)
    assert caught.value.where == str(broken)
    assert "Traceback" not in str(caught.value)
    assert not (tmp_path / "o.parquet").exists()


def test_dedup_file_on_ray_when_bucket_in_and_out_then_same_rows(
    ray_cluster, s3_env, seaweedfs, tmp_path
):
    from datawheel.data.ray_engine import dedup_file_on_ray

    bucket = s3_env["DATAWHEEL_ARTIFACTS_URL"].removeprefix("s3://").split("/")[0]
    frame = documents(seed=5)
    parts = write_parts(frame, tmp_path / "in", parts=2)
    client = seaweedfs.client()
    for path in sorted(parts.iterdir()):
        client.upload_file(str(path), bucket, f"corpus/{path.name}")
    dedup_file_on_ray(
        f"s3://{bucket}/corpus/",
        f"s3://{bucket}/unique/",
        text="text",
        threshold=0.7,
        address=ray_cluster.address,
    )
    keys = sorted(k["Key"] for k in client.list_objects_v2(Bucket=bucket)["Contents"])
    for key in keys:
        if key.startswith("unique/"):
            client.download_file(bucket, key, str(tmp_path / key.replace("/", "_")))
    back = pl.concat(
        [pl.read_parquet(tmp_path / k.replace("/", "_")) for k in keys if k.endswith(".parquet")
         and k.startswith("unique/")]
    )  # fmt: skip
    local, _, _ = dedup_with_stats(frame, text="text", threshold=0.7)
    assert back.equals(local)
    assert "unique/_datawheel.json" in keys


@pytest.mark.parametrize(
    "command",
    [
        ["clean", "IN", "-o", "OUT"],  # every command with --engine names the extra
        ["dedup", "IN", "-o", "OUT", "--text-field", "text"],
        ["pii", "scan", "IN", "-o", "OUT", "--text-field", "text"],
        ["anonymize", "IN", "-o", "OUT"],
    ],
)
def test_cli_when_engine_ray_without_ray_then_exit_2_naming_the_extra(tmp_path, command):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["mail a@b.io", "mail a@b.io"]}).write_csv(source)
    without_ray = (
        "import sys; sys.modules['ray'] = None; from datawheel.cli.main import main; main()"
    )
    names = {"IN": str(source), "OUT": str(tmp_path / "o.csv")}
    args = [names.get(arg, arg) for arg in command]
    env = {**os.environ, "DATAWHEEL_ROLE": "engineer"}  # anonymize needs a role (store.roles)
    done = subprocess.run(
        [sys.executable, "-c", without_ray, *args, "--engine", "ray"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "pip install 'datawheel[ray]'" in out
    assert "Traceback" not in out


def test_dedup_cli_when_engine_unknown_or_exact_only_on_ray_then_exit_2(tmp_path):
    import subprocess

    source = tmp_path / "docs.csv"
    pl.DataFrame({"text": ["a b c"]}).write_csv(source)
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "dedup", str(source), "-o", str(tmp_path / "o.csv"),
         "--text-field", "text", "--engine", "spark"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "use local or ray" in done.stdout + done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "dedup", str(source), "-o", str(tmp_path / "o.csv"),
         "--text-field", "text", "--engine", "ray", "--exact-only"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "--exact-only works with the local engine only" in " ".join(
        (done.stdout + done.stderr).split()
    )


def test_local_engine_when_folder_or_bucket_then_usage_error_pointing_at_ray(tmp_path):
    from datawheel.data.engines import local_path
    from datawheel.errors import UsageError

    with pytest.raises(UsageError, match="--engine ray"):
        local_path(str(tmp_path))
    with pytest.raises(UsageError, match="--engine ray"):
        local_path("s3://bucket/corpus/")
    assert local_path(str(tmp_path / "a.csv")) == tmp_path / "a.csv"
