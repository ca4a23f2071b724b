"""Serving fixtures: a trained project, tenants and keys, and real uvicorn servers on 127.0.0.1
(several over one database stand in for ``--workers N``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from datawheel.config import PlanConfig
from datawheel.project.pipeline import Project
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.service import Clocks
from datawheel.serve.tenants import ApiKey, create_key, create_tenant
from datawheel.store.workspace import Workspace

ROW = {"person_id": "P999", "name": "Ada Lovelace", "email": "ada@example.com",
       "phone": "555-010-9999", "address": "1 Main St", "ssn": "123-45-6789", "age": 41,
       "workclass": "Private", "education": "Masters", "education_num": 14,
       "marital_status": "Never-married", "occupation": "Prof-specialty",
       "relationship": "Not-in-family", "race": "White", "sex": "Female", "capital_gain": 0,
       "capital_loss": 0, "hours_per_week": 45, "native_country": "United-States"}  # fmt: skip

PLANS = {
    "free": PlanConfig(requests_per_minute=60, monthly_quota=10_000),
    "pro": PlanConfig(requests_per_minute=1_000_000, monthly_quota=10_000_000),
    "tiny": PlanConfig(requests_per_minute=6, monthly_quota=1_000),  # rate-limit tests
    "metered": PlanConfig(requests_per_minute=1_000_000, monthly_quota=50),  # quota tests
    "chatty": PlanConfig(requests_per_minute=1_000_000, monthly_quota=10_000,  # feedback tests
                         feedback_per_minute=3, feedback_max_chars=100),
}  # fmt: skip


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Api:
    project: Project
    ws: Workspace
    keys: dict[str, ApiKey] = field(default_factory=dict)
    servers: list[BackgroundServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.servers[0].url

    def start(self, *, clocks: Clocks | None = None, refresh_seconds: float = 0.5, **serve: Any):
        """One more server (a worker) over the same database."""
        config = self.project.config.model_copy(deep=True)
        config.serve = config.serve.model_copy(update={"plans": dict(PLANS), **serve})
        app = create_app(
            config,
            self.project.open_workspace(actor="api"),
            refresh_seconds=refresh_seconds,
            clocks=clocks,
        )
        server = BackgroundServer(app).start()
        self.servers.append(server)
        return server

    def service(self, i: int = 0):
        return self.servers[i].app.state.service

    def flush(self) -> None:
        for server in self.servers:
            server.app.state.service.writer.flush()

    def client(self, key: str = "acme", *, server: int = 0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key].secret}"}
        return httpx.Client(base_url=self.servers[server].url, headers=headers, timeout=30)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


@pytest.fixture
def make_api(project_copy: Path) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(*, start: bool = True, **options: Any) -> Api:
        project = Project.load(project_copy)
        ws = project.open_workspace()
        for tenant, plan in (("acme", "pro"), ("globex", "free"), ("tiny", "tiny"),
                             ("metered", "metered"), ("chatty", "chatty")):  # fmt: skip
            create_tenant(ws, tenant, plan=plan, plans=list(PLANS))
        api = Api(project, ws)
        api.keys = {
            "acme": create_key(ws, tenant="acme"),
            "globex": create_key(ws, tenant="globex"),
            "tiny": create_key(ws, tenant="tiny"),
            "metered": create_key(ws, tenant="metered"),
            "metered-analyst": create_key(ws, tenant="metered", role="analyst"),
            "chatty": create_key(ws, tenant="chatty"),
            **{role: create_key(ws, tenant="acme", role=role) for role in
               ("admin", "engineer", "analyst", "service")},
        }  # fmt: skip
        made.append(api)
        if start:
            api.start(**options)
        return api

    yield make
    for api in made:
        api.stop()
        api.ws.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
