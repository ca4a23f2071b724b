"""End to end on the income example: after `datawheel run` and served predictions carrying PII,
no raw PII value is stored unencrypted anywhere in the workspace; `datawheel erase` then leaves
nothing of a subject in any table or (decrypted) artifact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from datawheel.io import read_table
from datawheel.privacy.anonymize import subject_token
from datawheel.privacy.operators import pseudonym
from datawheel.project.pipeline import Project
from datawheel.registry.versions import champion
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant
from datawheel.store.datasets import list_datasets, load_frame

from .workspace_data import table_text

PII = ("name", "email", "ssn", "phone")


def _serve_predictions(project: Project, rows: list[dict]) -> None:
    ws = project.open_workspace()
    create_tenant(ws, "acme", plan="pro", plans=list(project.config.serve.plans))
    key = create_key(ws, tenant="acme")
    server = BackgroundServer(create_app(project.config, project.open_workspace(actor="api")))
    server.start()
    try:
        headers = {"Authorization": f"Bearer {key.secret}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            body = client.post("/v1/predict", json={"rows": rows}).json()
            first = body["predictions"][0]["id"]
            comment = f"{rows[0]['name']} ({rows[0]['email']}) says this is wrong"
            reply = client.post("/v1/feedback", json={"prediction_id": first, "comment": comment})
            assert reply.status_code == 201
        server.app.state.service.writer.flush()
    finally:
        server.stop()
        ws.close()


@pytest.mark.e2e
def test_workspace_when_run_and_served_then_no_raw_pii_unencrypted_and_erase_leaves_nothing(
    project_copy: Path,
):
    project = Project.load(project_copy)
    source = read_table(project.config.source_path(project.dir))
    served = [{k: v for k, v in r.items() if k != "income"} for r in source.head(5).to_dicts()]
    _serve_predictions(project, served)

    sample = [str(v) for c in PII for v in source[c].head(200).drop_nulls().to_list()]
    stored = b"".join(p.read_bytes() for p in project.workspace_dir.rglob("*") if p.is_file())
    leaked = [v for v in sample if v.encode() in stored]
    assert not leaked, leaked[:5]

    with project.open_workspace() as ws:
        key = ws.secret_key()
        train = next(r for r in list_datasets(ws) if r.kind == "train")
        in_train = set(load_frame(ws, train)["person_id"].to_list())
        row = next(r for r in served if subject_token(key, r["person_id"]) in in_train)
        env = {**os.environ, "DATAWHEEL_ROLE": "admin"}
        done = subprocess.run(
            [sys.executable, "-m", "datawheel", "erase", "--subject", row["person_id"]],
            cwd=project.dir, capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert champion(ws).needs_retraining
        traces = [row["person_id"], row["name"], row["email"], row["ssn"], str(row["phone"])]
        tags = (("name", "PERSON"), ("email", "EMAIL"))
        traces += [pseudonym(key, row[c], tag=t) for c, t in tags]
        tables = table_text(ws, skip=("erased_subjects", "audit"))
        datasets = "\n".join(
            load_frame(ws, r).write_csv() for r in list_datasets(ws) if r.artifact is not None
        )
        for trace in [*traces, subject_token(key, row["person_id"])]:
            assert trace not in datasets, trace
            for name, text in tables.items():
                assert trace not in text, (trace, name)
        audit = table_text(ws)["audit"]
        for trace in traces:
            assert trace not in audit
