"""Two hosts that share nothing but PostgreSQL, an S3 bucket (SeaweedFS) and the secret key:
host A trains, promotes and erases in its own folder; host B serves with two workers from
another folder. What A changes, B serves; what A erases, B can no longer read."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import polars as pl
import pytest

from datawheel.io import read_table, write_table
from datawheel.privacy.anonymize import subject_token
from datawheel.project.scaffold import init_project
from datawheel.registry.versions import champion, list_versions
from datawheel.secret import SecretKey
from datawheel.store.datasets import list_datasets, load_frame
from datawheel.store.db import predictions
from datawheel.store.workspace import Workspace
from services import bucket_keys, free_ports
from waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROW = {"person_id": "P777001", "name": "Ada Lovelace", "email": "ada@example.com",
       "phone": "555-010-9999", "address": "1 Main St", "ssn": "123-45-6789", "age": 41,
       "workclass": "Private", "education": "Masters", "education_num": 14,
       "marital_status": "Never-married", "occupation": "Prof-specialty",
       "relationship": "Not-in-family", "race": "White", "sex": "Female", "capital_gain": 0,
       "capital_loss": 0, "hours_per_week": 45, "native_country": "United-States"}  # fmt: skip


class Host:
    """One machine: its own folder and environment; runs the datawheel command there."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder = folder
        self.env = env

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "datawheel", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"datawheel {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def workspace(self) -> Workspace:
        """What this host can read: the shared database and bucket, through its own folder."""
        key = SecretKey.from_text(self.env["DATAWHEEL_KEY"], origin="test")
        return Workspace.open(
            self.folder / ".datawheel",
            key=key,
            db_url=self.env["DATAWHEEL_DB_URL"],
            artifacts_url=self.env["DATAWHEEL_ARTIFACTS_URL"],
        )


def test_two_hosts_when_a_trains_promotes_and_erases_then_b_serves_and_forgets(
    tmp_path, pg_schema_url, s3_env, seaweedfs, monkeypatch
):
    # the project on host A: the bundled income example, small and quick
    project = tmp_path / "a" / "income"
    init_project(project)
    data = project / "data" / "adult.csv.gz"
    frame = read_table(data).head(1500)
    subject = pl.DataFrame([{**ROW, "income": frame["income"][0]}]).select(frame.columns)
    frame = pl.concat([frame, subject.cast(frame.schema)])
    write_table(frame, data)
    config = project / "datawheel.yaml"
    config.write_text(config.read_text().replace("epochs: 30", "epochs: 2"))
    key = (project / "datawheel.key").read_text().strip()
    (project / "datawheel.key").unlink()  # the key travels in the environment only

    base = {k: v for k, v in os.environ.items() if not k.startswith("DATAWHEEL_")}
    env = {
        **base,
        **s3_env,
        "DATAWHEEL_DB_URL": pg_schema_url,
        "DATAWHEEL_KEY": key,
        "DATAWHEEL_ROLE": "admin",  # no key file on either host: the role is named
        "COLUMNS": "200",
    }
    a = Host(project, env)
    b_folder = tmp_path / "b"
    b_folder.mkdir()
    shutil.copy(config, b_folder / "datawheel.yaml")  # configuration only: no data, no key
    b = Host(b_folder, env)

    a.run("run")
    a.run("tenants", "create", "acme")
    secret = a.run("keys", "create", "--tenant", "acme").strip().splitlines()[-1]

    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "serve", "--port", str(port), "--workers", "2"],
        cwd=b_folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {secret}"}

    def served_version() -> str | None:
        assert server.poll() is None, server.stdout.read()
        try:
            answer = httpx.post(
                f"{url}/v1/predict", json={"rows": [ROW]}, headers=headers, timeout=10
            )
        except httpx.HTTPError:
            return None
        return answer.json()["model_version"] if answer.status_code == 200 else None

    try:
        wait_until(lambda: served_version() == "v1", what="B to serve v1", timeout=120)
        config.write_text(config.read_text().replace("epochs: 2", "epochs: 3"))
        a.run("run")  # a second version, trained on host A
        with a.workspace() as ws_a:
            target = next(v.id for v in list_versions(ws_a) if v.id != champion(ws_a).id)
        a.run("models", "promote", target)
        # every request after the promotion lands on either worker: both must switch
        wait_until(
            lambda: all(served_version() == target for _ in range(6)),
            what=f"B to serve the promoted {target}",
        )

        a.run("erase", "--subject", ROW["person_id"])
        with b.workspace() as ws_b:
            token = subject_token(ws_b.secret_key(), ROW["person_id"])
            tables = [load_frame(ws_b, r) for r in list_datasets(ws_b) if r.artifact]
            text = "\n".join(t.write_csv() for t in tables)
            assert ROW["person_id"] not in text and token not in text
            assert ROW["email"] not in text
            with ws_b.engine.connect() as conn:
                subjects = set(conn.execute(predictions.select()).scalars())
            assert token not in str(subjects)
            live = {r.artifact for r in list_datasets(ws_b)}
            stored = {k.rsplit("/", 1)[-1] for k in bucket_keys(seaweedfs, _bucket(s3_env))}
            versions = {v.artifact for v in list_versions(ws_b)}
            assert stored <= live | versions  # the erased tables' old objects are gone
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=60)
    assert not (b_folder / ".datawheel" / "artifacts").exists()  # B wrote no local artifacts


def _bucket(env: dict[str, str]) -> str:
    return env["DATAWHEEL_ARTIFACTS_URL"].removeprefix("s3://").split("/")[0]
