"""Every route of the console, asked by everyone: nobody, a customer's owner and developer, and
the team's analyst, engineer and admin — against the real server, each with a valid session and
CSRF token. The server alone decides: role and tenant checks hold whatever the browser sends.
A route without a row here fails the test, so a new page cannot skip the matrix."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from datawheel.registry.versions import champion
from datawheel.store.db import audit, tenants, users

from .conftest import signed_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WHO = ["anonymous", "owner", "developer", "analyst", "engineer", "admin"]
EMAILS = {
    "owner": "owner@acme.example",
    "developer": "dev@acme.example",
    "analyst": "ana@team.example",
    "engineer": "eng@team.example",
    "admin": "admin@team.example",
}
LOGIN = "login"  # 303 to the sign-in page
BACK = "back"  # 303 to a console page: allowed through, refused by the library (nothing done)
OK = "ok"  # 200 (or 202 while a model card is drawn)

CUSTOMER_PAGE = {"anonymous": LOGIN, "owner": OK, "developer": OK, "analyst": 403,
                 "engineer": 403, "admin": 403}  # fmt: skip
OPERATOR_PAGE = {"anonymous": LOGIN, "owner": 403, "developer": 403, "analyst": OK,
                 "engineer": OK, "admin": OK}  # fmt: skip
PROMOTE = {"anonymous": LOGIN, "owner": 403, "developer": 403, "analyst": 403,
           "engineer": BACK, "admin": BACK}  # fmt: skip
ADMIN = {"anonymous": LOGIN, "owner": 403, "developer": 403, "analyst": 403, "engineer": 403,
         "admin": BACK}  # fmt: skip
PUBLIC = dict.fromkeys(WHO, OK)
OPERATORS = ("analyst", "engineer", "admin")

# (method, path) → (expected per identity, form sent). Forms are valid as to CSRF but refused
# by the library after the checks (no confirmation, a bad value), so the matrix changes nothing.
MATRIX: dict[tuple[str, str], tuple[dict[str, object], dict[str, str]]] = {
    ("GET", "/login"): (PUBLIC, {}),
    ("POST", "/login"): (dict.fromkeys(WHO, 403), {}),  # no sign-in form token: refused
    ("POST", "/logout"): ({**dict.fromkeys(WHO, LOGIN)}, {}),  # run last, on its own
    ("GET", "/signup/{token}"): (dict.fromkeys(WHO, 410), {}),
    ("POST", "/signup/{token}"): (dict.fromkeys(WHO, 410), {"password": "x" * 20}),
    ("GET", "/language"): (dict.fromkeys(WHO, BACK), {}),
    ("GET", "/"): ({**CUSTOMER_PAGE, **dict.fromkeys(OPERATORS, BACK)}, {}),  # their home
    ("GET", "/keys"): (CUSTOMER_PAGE, {}),
    ("POST", "/keys"): ({**CUSTOMER_PAGE, "owner": 422, "developer": 403}, {"role": "root"}),
    ("POST", "/keys/{key_id}/revoke"): ({**CUSTOMER_PAGE, "owner": 404, "developer": 403}, {}),
    ("GET", "/usage"): (CUSTOMER_PAGE, {}),
    ("GET", "/usage.csv"): (CUSTOMER_PAGE, {}),
    ("GET", "/playground"): (CUSTOMER_PAGE, {}),
    ("GET", "/quickstart"): (CUSTOMER_PAGE, {}),
    ("GET", "/models"): (OPERATOR_PAGE, {}),
    ("GET", "/models/{ref}"): (OPERATOR_PAGE, {}),
    ("GET", "/models/{ref}/card"): (OPERATOR_PAGE, {}),
    ("POST", "/models/promote"): (PROMOTE, {"version": "v2", "reason": "matrix"}),
    ("POST", "/models/rollback"): (PROMOTE, {"reason": "matrix"}),
    ("GET", "/loop"): (OPERATOR_PAGE, {}),
    ("GET", "/loop/jobs"): (OPERATOR_PAGE, {}),
    ("POST", "/loop/retrain"): (PROMOTE, {}),
    ("GET", "/monitoring"): (OPERATOR_PAGE, {}),
    ("GET", "/feedback"): (OPERATOR_PAGE, {}),
    ("GET", "/datasets"): (OPERATOR_PAGE, {}),
    ("GET", "/audit"): (OPERATOR_PAGE, {}),
    ("GET", "/tenants"): (OPERATOR_PAGE, {}),
    ("POST", "/tenants"): (ADMIN, {"name": "bad/name", "plan": "pro"}),
    ("POST", "/tenants/{name}/plan"): (ADMIN, {"plan": "no-such-plan"}),
    ("POST", "/tenants/{name}/deactivate"): (ADMIN, {}),
    ("POST", "/tenants/{name}/activate"): (ADMIN, {}),  # globex is active: refused
    ("POST", "/plans"): (ADMIN, {"name": "bad/name", "requests_per_minute": "1"}),
    ("GET", "/users"): ({**OPERATOR_PAGE, "analyst": 403, "engineer": 403}, {}),
    ("POST", "/users"): (ADMIN, {"email": "not an address", "tenant": "acme", "role": "owner"}),
    ("POST", "/users/link"): (ADMIN, {"email": "nobody@nowhere.example"}),
    ("POST", "/users/disable"): (ADMIN, {"email": "dev@acme.example"}),  # not confirmed
}


def _path(template: str, site: dict) -> str:
    values = {"token": "no-such-token", "key_id": site["globex_key"].id, "ref": "v1",
              "name": "globex"}  # fmt: skip
    return "/console" + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _routes(site: dict) -> set[tuple[str, str]]:
    """Every (method, path) the console's app routes, as its OpenAPI lists them."""
    paths = site["console"].openapi()["paths"]
    return {(method.upper(), path) for path, methods in paths.items() for method in methods}


def _snapshot(site: dict) -> tuple:
    with site["ws"].engine.connect() as conn:
        changes = conn.execute(
            select(func.count()).select_from(audit).where(~audit.c.action.like("console.sign%"))
        ).scalar()
        tenant_rows = conn.execute(select(tenants.c.name, tenants.c.plan, tenants.c.active)).all()
        user_rows = conn.execute(select(users.c.email, users.c.disabled_at)).all()
    return champion(site["ws"]).id, changes, sorted(tenant_rows), sorted(user_rows)


def _verdict(answer: httpx.Response) -> object:
    if answer.status_code == 303:
        return LOGIN if answer.headers["location"].endswith("/console/login") else BACK
    if answer.status_code in (200, 202) and answer.request.method == "GET":
        return OK
    return answer.status_code


def test_matrix_when_every_route_is_asked_by_everyone_then_only_the_allowed_get_through(site):
    assert _routes(site) == set(MATRIX), "every console route needs a row in MATRIX"
    before = _snapshot(site)
    clients = {"anonymous": (httpx.Client(base_url=site["url"]), "")}
    for who in WHO[1:]:
        clients[who] = signed_in(site, EMAILS[who])
    wrong = []
    for (method, template), (expected, form) in MATRIX.items():
        if template == "/logout":
            continue
        for who in WHO:
            client, csrf = clients[who]
            path = _path(template, site)
            if method == "GET":
                answer = client.get(path, follow_redirects=False)
            else:
                answer = client.post(path, data={"csrf": csrf, **form}, follow_redirects=False)
            got = _verdict(answer)
            if got != expected[who]:
                wrong.append(f"{who} {method} {template}: {got}, expected {expected[who]}")
            if who in ("owner", "developer") and answer.status_code == 200:
                assert "globex" not in answer.text, f"{who} saw globex on {template}"
    assert wrong == []
    assert _snapshot(site) == before  # nothing changed: every refusal came before a write
    for who in WHO[1:]:  # and sign-out ends each session
        client, csrf = clients[who]
        answer = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
        assert _verdict(answer) == LOGIN
        assert _verdict(client.get("/console/models", follow_redirects=False)) == LOGIN


def test_form_when_posted_without_csrf_then_refused_on_every_post_route(site):
    client, _csrf = signed_in(site, EMAILS["admin"])
    owner, _ = signed_in(site, EMAILS["owner"])
    before = _snapshot(site)
    for method, template in MATRIX:
        if method != "POST" or template in ("/login", "/logout") or "signup" in template:
            continue
        who = owner if template.startswith("/keys") else client
        answer = who.post(_path(template, site), data={"confirm": "yes", "reason": "x"})
        assert answer.status_code == 403, template
    assert _snapshot(site) == before
