"""``pii scan`` and ``anonymize`` with ``--engine ray`` on the session's two-node cluster: the
same bytes as the local engine (so the same keyed tokens the API computes for a request),
and the master key never sent to the cluster."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import polars as pl
import pytest

from datawheel.config import ProjectConfig
from datawheel.privacy.anonymize import Anonymizer
from datawheel.privacy.files import anonymize_file, scan_file
from datawheel.secret import SecretKey
from ray_tables import people, read_parts, write_parts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONFIG = ProjectConfig.model_validate(
    {
        "name": "people",
        "data": {"source": "people.csv", "target": "age", "id": "person_id", "text": ["message"]},
        "privacy": {
            "columns": {"name": "pseudonymize", "email": "pseudonymize"},
            "text": {"entities": "all", "operator": "pseudonymize"},
        },
    }
)


def test_pii_scan_on_ray_when_csv_or_parquet_parts_then_same_bytes_as_local(ray_cluster, tmp_path):
    from datawheel.privacy.ray_privacy import scan_file_on_ray

    frame = people()
    frame.write_csv(tmp_path / "people.csv")
    parts = write_parts(frame, tmp_path / "parts", parts=3, group_rows=25)
    scan_file(tmp_path / "people.csv", tmp_path / "local.jsonl", text_field="message")
    for source, name in ((tmp_path / "people.csv", "csv.jsonl"), (parts, "parts.jsonl")):
        rows = scan_file_on_ray(
            source, tmp_path / name, text_field="message", address=ray_cluster.address
        )
        assert rows == frame.height
        assert (tmp_path / name).read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert '"EMAIL"' in (tmp_path / "local.jsonl").read_text()


def test_anonymize_on_ray_when_same_key_then_same_bytes_tokens_and_counts_as_local(
    ray_cluster, tmp_path
):
    from datawheel.privacy.ray_privacy import anonymize_file_on_ray

    frame = people()
    frame.write_csv(tmp_path / "people.csv")
    key = SecretKey.generate()
    local = anonymize_file(tmp_path / "people.csv", tmp_path / "local.csv", CONFIG, key)
    rows, on_ray = anonymize_file_on_ray(
        tmp_path / "people.csv", tmp_path / "ray.csv", CONFIG, key, address=ray_cluster.address
    )
    assert rows == frame.height
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert on_ray.stats == local.stats and on_ray.undeclared == local.undeclared
    # a request anonymized by the API gets the token the cluster wrote
    served = Anonymizer(CONFIG.privacy, key, id_column="person_id", text_columns=["message"])
    written = pl.read_csv(tmp_path / "ray.csv")
    assert served.row(frame.row(7, named=True))["email"] == written["email"][7]
    assert frame["email"][7] not in (tmp_path / "ray.csv").read_text()
    # another key, other tokens
    anonymize_file_on_ray(
        tmp_path / "people.csv",
        tmp_path / "other.csv",
        CONFIG,
        SecretKey.generate(),
        address=ray_cluster.address,
    )
    assert pl.read_csv(tmp_path / "other.csv")["email"][7] != written["email"][7]


def test_anonymize_on_ray_when_parts_to_folder_then_rows_in_order(ray_cluster, tmp_path):
    from datawheel.privacy.ray_privacy import anonymize_file_on_ray

    frame = people(150)
    parts = write_parts(frame, tmp_path / "parts", parts=2, group_rows=30)
    key = SecretKey.generate()
    frame.write_parquet(tmp_path / "people.parquet")
    anonymize_file(tmp_path / "people.parquet", tmp_path / "local.parquet", CONFIG, key)
    anonymize_file_on_ray(parts, tmp_path / "out/", CONFIG, key, address=ray_cluster.address)
    assert read_parts(tmp_path / "out").equals(pl.read_parquet(tmp_path / "local.parquet"))


def test_derived_keys_when_pickled_for_the_tasks_then_master_key_absent():
    from datawheel.privacy.ray_privacy import DerivedKeys

    key = SecretKey.generate()
    shipped = pickle.dumps(DerivedKeys.of(key))
    assert key.to_text().encode() not in shipped
    assert key._master not in shipped
    assert key.pseudonym_key in shipped  # what the operators need
    assert repr(DerivedKeys.of(key)) == "DerivedKeys()"  # never printed into a log


def test_pii_scan_cli_when_engine_ray_then_same_lines_as_local(ray_cluster, tmp_path):
    frame = people(60)
    frame.write_csv(tmp_path / "people.csv")
    scan_file(tmp_path / "people.csv", tmp_path / "local.jsonl", text_field="message")
    done = subprocess.run(
        [sys.executable, "-m", "datawheel", "pii", "scan", str(tmp_path / "people.csv"), "-o",
         str(tmp_path / "ray.jsonl"), "--text-field", "message", "--engine", "ray",
         "--ray-address", ray_cluster.address],
        capture_output=True, text=True, timeout=150, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert "scanned 60 rows on Ray" in done.stdout
