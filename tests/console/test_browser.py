"""The console in a real browser: Debian's chromium driven by Playwright against a real server on
127.0.0.1 over a trained workspace. Screenshots of the main pages go to tests' tmp directory
(and to $DATAWHEEL_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from datawheel.client import ApiError, Client

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
OPERATOR_PAGES = ["/models", "/loop", "/monitoring", "/feedback", "/datasets", "/tenants", "/audit"]
CUSTOMER_PAGES = ["/", "/keys", "/usage", "/playground", "/quickstart"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def site(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A served copy of the trained project with two customer tenants and three users."""
    from datawheel.config import load_config
    from datawheel.console.accounts import create_user
    from datawheel.project.app_factory import mount_console
    from datawheel.serve.app import create_app
    from datawheel.serve.background import BackgroundServer
    from datawheel.serve.tenants import create_key, create_tenant
    from datawheel.store.workspace import Workspace

    root = tmp_path_factory.mktemp("console") / "income"
    shutil.copytree(trained_project.parent, root)
    project_file = root / "datawheel.yaml"
    config = load_config(project_file, check_source=False)
    ws = Workspace.open(root / ".datawheel", key_dir=root, actor="api")
    plans = list(config.serve.plans)
    for tenant in ("acme", "globex"):
        create_tenant(ws, tenant, plan="pro", plans=plans)
        create_user(ws, f"owner@{tenant}.example", tenant=tenant, role="owner", password=PASSWORD)
    create_user(ws, "eng@team.example", tenant="operators", role="engineer", password=PASSWORD)
    create_user(ws, "ana@team.example", tenant="operators", role="analyst", password=PASSWORD)
    globex_key = create_key(ws, tenant="globex", role="service", name="globex backend")
    _register_challenger(ws)
    app = create_app(config, ws, refresh_seconds=0.2)
    mount_console(app, config, ws)
    shots = Path(os.environ.get("DATAWHEEL_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with BackgroundServer(app) as server:
        yield {
            "url": server.url,
            "app": app,
            "ws": ws,
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


@pytest.fixture(scope="module")
def browser(site: dict) -> Iterator:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page_of(browser, site: dict):
    """A signed-in page for a user; collects console errors and failed requests."""
    opened = []

    def open_as(email: str):
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda m: page.errors.append(m.text) if m.type == "error" else None,  # type: ignore[attr-defined]
        )
        page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
        page.goto(f"{site['url']}/console/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        opened.append(context)
        return page

    yield open_as
    for context in opened:
        context.close()


def _api(site: dict, key: str) -> Client:
    return Client(site["url"], key)


def test_customer_when_signing_in_and_creating_a_key_then_the_key_calls_the_api_and_usage_rises(
    page_of, site
):
    page = page_of("owner@acme.example")
    assert page.url.endswith("/console/")
    before = int(page.inner_text("#predict-requests").replace(",", ""))
    page.screenshot(path=str(site["shots"] / "overview.png"), full_page=True)

    page.click("text=API keys")
    page.fill("input[name=name]", "staging")
    page.click("#create-key")
    secret = page.get_attribute("#new-key", "data-key")
    assert secret and secret.startswith("dw_")
    page.screenshot(path=str(site["shots"] / "keys.png"), full_page=True)
    assert "staging" in page.inner_text("table")

    with _api(site, secret) as client:
        answer = client.predict([site["row"]] * 3)
        assert len(answer["predictions"]) == 3
        feedback_id = client.feedback(answer["predictions"][0]["id"], issue="wrong_label")
        assert feedback_id

    site["app"].state.service.writer.flush()  # the write-behind's queue, as a worker does
    page.goto(f"{site['url']}/console/")
    assert int(page.inner_text("#predict-requests").replace(",", "")) == before + 1

    page.click("text=Usage & billing")
    assert "predict" in page.inner_text("#usage-table")
    page.screenshot(path=str(site["shots"] / "usage.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download-csv")
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("tenant,plan,endpoint,day,requests,rows")
    assert "acme,pro,predict" in csv_text and "globex" not in csv_text
    assert page.errors == []


def test_playground_when_run_then_it_shows_the_label_and_the_explanation(page_of, site):
    page = page_of("owner@acme.example")
    page.click("text=API keys")
    page.fill("input[name=name]", "playground")
    page.click("#create-key")
    page.click("text=Playground")
    assert page.input_value("#pg-key").startswith("dw_")  # the key just made, this tab only
    for name, value in site["row"].items():
        page.fill(f"input[name='{name}']", str(value))
    page.click("#pg-run")
    page.wait_for_selector("#pg-prediction:not([hidden])", timeout=30_000)
    assert page.inner_text("#pg-label").strip()
    assert page.locator("#pg-explain .bar-row").count() == len(site["row"])
    page.screenshot(path=str(site["shots"] / "playground.png"), full_page=True)
    assert page.errors == []


def _wait_served(site: dict, version: str) -> None:
    """Wait (up to 20 s) until predictions come from ``version``: the server polls the registry."""
    deadline = time.monotonic() + 20
    with _api(site, site["globex_key"].secret) as client:
        while client.predict([site["row"]])["model_version"] != version:
            assert time.monotonic() < deadline, f"the server never switched to {version}"


def test_engineer_when_promoting_and_rolling_back_then_the_stage_changes_and_is_audited(
    page_of, site
):
    from datawheel.registry.versions import champion

    page = page_of("eng@team.example")
    assert page.url.endswith("/console/models")
    page.screenshot(path=str(site["shots"] / "models.png"), full_page=True)
    row = page.locator("tr[data-version=v2]")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("better on the holdout")
    row.locator("button[type=submit]").click()  # the confirmation box is required: not ticked
    assert champion(site["ws"]).id == "v1"
    row.locator("input[name=confirm]").check()
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#flash")
    assert "Promoted v2" in page.inner_text("#flash")
    assert champion(site["ws"]).id == "v2"
    assert "champion" in page.inner_text("tr[data-version=v2]")
    _wait_served(site, "v2")

    page.fill("#rollback-form input[name=reason]", "customers report worse answers")
    page.check("#rollback-form input[name=confirm]")
    page.click("#rollback-form button[type=submit]")
    page.wait_for_selector("#flash")
    assert "Rolled back to v1" in page.inner_text("#flash")
    assert champion(site["ws"]).id == "v1"
    _wait_served(site, "v1")

    page.click("text=Audit log")
    page.fill("input[name=actor]", "user:eng@team.example")
    page.click("text=Filter")  # htmx swaps the results in and pushes the filtered URL
    page.wait_for_url(re.compile(r".*actor=user%3Aeng%40team.example.*"))
    audited = page.inner_text("#audit")
    assert "console.sign_in" in audited and "model.stage" in audited
    assert "better on the holdout" in audited and "customers report worse answers" in audited
    page.click("#verify-chain")
    page.wait_for_selector("#chain-report")
    assert "intact" in page.inner_text("#chain-report")
    page.screenshot(path=str(site["shots"] / "audit.png"), full_page=True)
    assert page.errors == []


def test_operator_pages_when_opened_then_render_without_console_errors(page_of, site):
    page = page_of("ana@team.example")
    for path in OPERATOR_PAGES:
        response = page.goto(f"{site['url']}/console{path}")
        assert response.status == 200, path
        assert page.locator("h1").count() == 1
        page.screenshot(path=str(site["shots"] / f"op{path.replace('/', '-')}.png"), full_page=True)
    assert page.errors == []


def test_analyst_when_promoting_then_refused_and_nothing_changes(page_of, site):
    from datawheel.registry.versions import champion

    page = page_of("ana@team.example")
    page.goto(f"{site['url']}/console/models")
    assert page.locator("text=Promote…").count() == 0  # no button for this role
    csrf = page.get_attribute("input[name=csrf]", "value")
    before = champion(site["ws"]).id
    answer = page.request.post(
        f"{site['url']}/console/models/promote",
        form={"csrf": csrf, "version": before, "reason": "x", "confirm": "yes"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert champion(site["ws"]).id == before


def test_form_when_posted_without_csrf_then_refused(page_of, site):
    page = page_of("owner@acme.example")
    answer = page.request.post(
        f"{site['url']}/console/keys", form={"name": "sneaky", "role": "service"}
    )
    assert answer.status == 403
    page.goto(f"{site['url']}/console/keys")
    assert "sneaky" not in page.inner_text("table")


def test_tenant_when_reaching_for_other_data_by_url_then_sees_only_its_own(page_of, site):
    page = page_of("owner@acme.example")
    for path in CUSTOMER_PAGES:
        response = page.goto(f"{site['url']}/console{path}")
        assert response.status == 200, path
        assert "globex" not in page.content(), path
    for path in OPERATOR_PAGES:
        response = page.goto(f"{site['url']}/console{path}")
        assert response.status == 403, path
    csrf = page.get_attribute("input[name=csrf]", "value")
    other = site["globex_key"]
    answer = page.request.post(
        f"{site['url']}/console/keys/{other.id}/revoke", form={"csrf": csrf}, max_redirects=0
    )
    assert answer.status == 404
    with _api(site, other.secret) as client:  # globex's key still works
        assert client.predict([site["row"]])["predictions"]


def test_feedback_comment_when_holding_script_then_renders_as_text(page_of, site):
    with _api(site, site["globex_key"].secret) as client:
        prediction = client.predict([site["row"]])["predictions"][0]
        client.feedback(prediction["id"], issue="xss", comment="<script>alert(1)</script> hi")
    page = page_of("ana@team.example")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{site['url']}/console/feedback?issue=xss")
    assert "<script>alert(1)</script>" in page.inner_text("#feedback-examples")
    assert dialogs == []
    page.screenshot(path=str(site["shots"] / "feedback.png"), full_page=True)


def test_sign_out_when_clicked_then_the_old_cookie_no_longer_opens_pages(page_of, site):
    page = page_of("owner@acme.example")
    cookie = next(c for c in page.context.cookies() if c["name"] == "dw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/console/login$"))
    stale = httpx.get(
        f"{site['url']}/console/keys",
        cookies={"dw_session": cookie["value"]},
        follow_redirects=False,
    )
    assert stale.status_code == 303 and stale.headers["location"].endswith("/console/login")


def test_sign_in_when_wrong_too_often_then_rate_limited(browser, site):
    page = browser.new_page()
    page.goto(f"{site['url']}/console/login")
    statuses = []
    for _ in range(6):
        page.fill("input[name=email]", "owner@globex.example")
        page.fill("input[name=password]", "not the password at all")
        with page.expect_response(
            lambda r: r.url.endswith("/console/login") and r.request.method == "POST"
        ) as r:
            page.click("button[type=submit]")
        statuses.append(r.value.status)
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    page.screenshot(path=str(site["shots"] / "login.png"))
    page.close()


def test_docs_when_offline_then_swagger_ui_renders_from_the_package(browser, site):
    page = browser.new_page()
    outside = []
    page.on(
        "request", lambda r: outside.append(r.url) if not r.url.startswith(site["url"]) else None
    )
    page.goto(f"{site['url']}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert outside == []
    page.close()


def test_client_when_the_api_refuses_then_raises_with_code_and_field(site):
    number = next(k for k, v in site["row"].items() if v == 40)
    with _api(site, site["globex_key"].secret) as client, pytest.raises(ApiError) as caught:
        client.predict([{**site["row"], number: "not a number"}])
    assert caught.value.status == 422 and caught.value.field
    with Client(site["url"], "dw_nope_nope") as client, pytest.raises(ApiError) as caught:
        client.usage()
    assert caught.value.status == 401
