"""Licensed bundles: predict.py and `serve --bundle` run within the license and refuse outside it
(expired, feature not granted, tampered license or model, revoked, rows used up)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from datawheel.errors import NotFoundError, UsageError
from datawheel.io import read_table
from datawheel.project.pipeline import Project
from datawheel.registry import license_check
from datawheel.registry.licenses import issue_license, list_licenses, revoke_license
from datawheel.registry.version_export import export_version
from datawheel.serve.background import BackgroundServer
from datawheel.serve.bundle_app import create_bundle_app

pytest.importorskip("onnxruntime")
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def licensed(project_copy: Path, tmp_path: Path):
    """An exported bundle of the trained income model, its workspace and a few input rows."""
    project = Project.load(project_copy)
    ws = project.open_workspace()
    bundle = tmp_path / "bundle"
    export_version(ws, "champion", bundle, config=project.config)
    rows = read_table(project.config.source_path(project.dir)).head(3)
    inputs = tmp_path / "rows.jsonl"
    inputs.write_text("\n".join(json.dumps(r, default=str) for r in rows.to_dicts()))
    yield ws, bundle, inputs
    ws.close()


def _predict(bundle: Path, inputs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(bundle / "predict.py"), str(inputs), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_license_when_issued_then_bundle_predicts_and_register_lists_it(licensed):
    ws, bundle, inputs = licensed
    record = issue_license(
        ws, licensee="Acme", expires=TODAY + dt.timedelta(days=30), bundle=bundle
    )
    done = _predict(bundle, inputs)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert [r.id for r in list_licenses(ws)] == [record.id]
    body = license_check.check(bundle, feature="predict")
    assert body["licensee"] == "Acme" and "model.onnx" in body["files"]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda b: (b / "model.onnx").write_bytes((b / "model.onnx").read_bytes() + b"\0"),
         "model.onnx was changed"),
        (lambda b: (b / "preprocessing.json").write_text("{}"), "preprocessing.json was changed"),
        (lambda b: (b / "license.json").write_text(
            (b / "license.json").read_text().replace('"expires": "', '"expires": "2')),
         "changed after it was signed"),
        (lambda b: (b / "model.pt").unlink(), "model.pt is missing"),
    ],
)  # fmt: skip
def test_predict_py_when_bundle_tampered_then_refuses_with_one_line(licensed, tamper, message):
    ws, bundle, inputs = licensed
    issue_license(ws, licensee="Acme", expires=TODAY + dt.timedelta(days=30), bundle=bundle)
    tamper(bundle)
    done = _predict(bundle, inputs)
    assert done.returncode != 0 and done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_check_when_expired_or_feature_not_granted_then_license_error(licensed):
    ws, bundle, _ = licensed
    issue_license(ws, licensee="Acme", expires=TODAY + dt.timedelta(days=3), bundle=bundle)
    license_check.check(bundle, feature="predict", today=TODAY + dt.timedelta(days=3))  # last day
    with pytest.raises(license_check.LicenseError, match="expired"):
        license_check.check(bundle, feature="predict", today=TODAY + dt.timedelta(days=4))
    with pytest.raises(license_check.LicenseError, match="does not grant 'explain'"):
        license_check.check(bundle, feature="explain")


def test_revoke_when_list_given_then_bundle_refuses(licensed, tmp_path):
    ws, bundle, inputs = licensed
    record = issue_license(
        ws, licensee="Acme", expires=TODAY + dt.timedelta(days=30), bundle=bundle
    )
    revocations = tmp_path / "revocations.json"
    revoke_license(ws, record.id, reason="contract ended", output=revocations)
    assert _predict(bundle, inputs).returncode == 0  # no list given: nothing to honour
    done = _predict(bundle, inputs, "--revocations", str(revocations))
    assert done.returncode != 0 and "was revoked" in done.stderr
    assert list_licenses(ws)[0].revoked_reason == "contract ended"
    with pytest.raises(NotFoundError):
        revoke_license(ws, "lic-missing")


def test_max_rows_when_used_up_then_refused(licensed):
    ws, bundle, inputs = licensed
    issue_license(
        ws, licensee="Acme", expires=TODAY + dt.timedelta(days=30), bundle=bundle, max_rows=5
    )
    assert _predict(bundle, inputs).returncode == 0  # 3 of 5
    done = _predict(bundle, inputs)  # 3 more
    assert done.returncode != 0 and "allows 5 rows; 3 used, 3 asked" in done.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expires": TODAY - dt.timedelta(days=1)}, "in the past"),
        ({"features": ["predict", "train"]}, "unknown feature"),
        ({"max_rows": 0}, "max-rows"),
    ],
)
def test_issue_when_terms_invalid_then_usage_error(licensed, kwargs, message):
    ws, bundle, _ = licensed
    terms = {"licensee": "Acme", "expires": TODAY + dt.timedelta(days=1), "bundle": bundle}
    with pytest.raises(UsageError, match=message):
        issue_license(ws, **{**terms, **kwargs})


def test_serve_bundle_when_licensed_then_serves_within_terms_only(licensed):
    ws, bundle, inputs = licensed
    issue_license(ws, licensee="Acme", expires=TODAY + dt.timedelta(days=1), bundle=bundle)
    rows = [json.loads(line) for line in inputs.read_text().splitlines()]
    day = {"today": TODAY}
    app = create_bundle_app(bundle, clock=lambda: day["today"])
    with BackgroundServer(app) as server:
        ok = httpx.post(f"{server.url}/v1/predict", json={"rows": rows}, timeout=30)
        assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3
        refused = httpx.post(f"{server.url}/v1/explain", json={"rows": rows}, timeout=30)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "license"
        day["today"] = TODAY + dt.timedelta(days=2)  # the server outlives the license
        late = httpx.post(f"{server.url}/v1/predict", json={"rows": rows}, timeout=30)
        assert late.status_code == 403 and "expired" in late.json()["error"]["message"]
    (bundle / "model.pt").write_bytes(b"tampered")
    with pytest.raises(UsageError, match=r"model\.pt was changed"):
        create_bundle_app(bundle)


def test_issue_when_workspace_freshly_opened_then_key_check_does_not_lock_sqlite(licensed):
    from datawheel.store.workspace import Workspace

    ws, bundle, _ = licensed
    fresh = Workspace.open(ws.root, key_dir=ws.key_dir)  # its key not yet checked
    try:
        issue_license(fresh, licensee="Acme", expires=TODAY, bundle=bundle)
    finally:
        fresh.close()
    license_check.check(bundle, feature="predict")
