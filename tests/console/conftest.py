"""A served copy of the trained project for the console's end-to-end tests: two customer tenants,
their people and the team's, a second model version, and a privacy policy stricter than the one
v1 was trained under (so the console has an alert to show)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PASSWORD = "correct horse battery staple"
USERS = {  # e-mail → (tenant, role)
    "owner@acme.example": ("acme", "owner"),
    "dev@acme.example": ("acme", "developer"),
    "owner@globex.example": ("globex", "owner"),
    "admin@team.example": ("operators", "admin"),
    "eng@team.example": ("operators", "engineer"),
    "ana@team.example": ("operators", "analyst"),
}


@pytest.fixture(scope="module")
def site(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from datawheel.config import load_config
    from datawheel.console.accounts import create_user
    from datawheel.project.app_factory import mount_console
    from datawheel.serve.app import create_app
    from datawheel.serve.background import BackgroundServer
    from datawheel.serve.tenants import create_key, create_tenant
    from datawheel.store.workspace import Workspace

    root = tmp_path_factory.mktemp("console") / "income"
    shutil.copytree(trained_project.parent, root)
    config = load_config(root / "datawheel.yaml", check_source=False)
    columns = {**config.privacy.columns, "email": "redact"}  # v1 was trained under pseudonymize
    config = config.model_copy(
        update={"privacy": config.privacy.model_copy(update={"columns": columns})}
    )
    ws = Workspace.open(root / ".datawheel", key_dir=root, actor="api")
    plans = list(config.serve.plans)
    for tenant in ("acme", "globex"):
        create_tenant(ws, tenant, plan="pro", plans=plans)
    for email, (tenant, role) in USERS.items():
        create_user(ws, email, tenant=tenant, role=role, password=PASSWORD)
    globex_key = create_key(ws, tenant="globex", role="service", name="globex backend")
    _register_challenger(ws)
    app = create_app(config, ws, refresh_seconds=0.2)
    mount_console(app, config, ws)
    console_app = next(r for r in app.routes if getattr(r, "path", "") == "/console").app
    shots = Path(os.environ.get("DATAWHEEL_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with BackgroundServer(app) as server:
        yield {
            "url": server.url,
            "app": app,
            "console": console_app,
            "ws": ws,
            "config": config,
            "row": _example_row(ws),
            "globex_key": globex_key,
            "shots": shots,
        }
    ws.close()


def _register_challenger(ws) -> None:
    """v2: the champion's model registered again, so there is something to promote."""
    from datawheel.registry.versions import champion, load_version_model, register_model

    v1 = champion(ws)
    register_model(
        ws,
        load_version_model(ws, v1),
        dataset_id=v1.dataset_id,
        eval_dataset_id=v1.eval_dataset_id,
        metrics=v1.metrics,
        fairness=v1.fairness,
        notes="the champion again, for the console tests",
    )


def _example_row(ws) -> dict:
    from datawheel.registry.versions import champion

    schema = champion(ws).input_schema
    return {name: (40 if kind == "number" else "Private") for name, kind in schema.items()}


def signed_in(site: dict, email: str) -> tuple[httpx.Client, str]:
    """An HTTP client with ``email``'s session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=site["url"], timeout=60, follow_redirects=False)
    form = client.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/console/login", data={"email": email, "password": PASSWORD, "csrf": token}
    )
    assert answer.status_code == 303, answer.text[:300]
    page = client.get(answer.headers["location"]).text
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)
