"""The tenant and key commands of the next release's contract: keys list, key expiry, tenants
deactivate and set-plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datawheel.cli.main import main


def _cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(project_copy: Path, monkeypatch) -> Path:
    monkeypatch.delenv("DATAWHEEL_ROLE", raising=False)  # the owner of datawheel.key: admin
    monkeypatch.delenv("DATAWHEEL_KEY", raising=False)
    return project_copy


def test_keys_when_created_with_expiry_then_listed_with_it(project: Path, capsys):
    assert _cli(capsys, "tenants", "create", "acme", "--plan", "pro", "-c", project)[0] == 0
    assert _cli(capsys, "tenants", "create", "globex", "--plan", "free", "-c", project)[0] == 0
    code, out, err = _cli(capsys, "keys", "create", "--tenant", "acme", "--expires",
                          "2099-12-31", "-c", project)  # fmt: skip
    assert code == 0, err
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("dw_") and "valid through 2099-12-31" in out
    assert _cli(capsys, "keys", "create", "--tenant", "globex", "-c", project)[0] == 0
    code, out, _ = _cli(capsys, "keys", "list", "--tenant", "acme", "--json", "-c", project)
    listed = json.loads(out)
    assert [k["tenant"] for k in listed] == ["acme"]
    assert listed[0]["expires_at"].startswith("2100-01-01") and listed[0]["status"] == "active"
    assert secret not in out and secret.split("_")[1] == listed[0]["id"]
    code, out, _ = _cli(capsys, "keys", "list", "--json", "-c", project)
    assert sorted(k["tenant"] for k in json.loads(out)) == ["acme", "globex"]


def test_keys_create_when_expiry_malformed_then_exit_2_one_line(project: Path, capsys):
    _cli(capsys, "tenants", "create", "acme", "-c", project)
    code, out, err = _cli(capsys, "keys", "create", "--tenant", "acme", "--expires", "soon",
                          "-c", project)  # fmt: skip
    assert code == 2 and "--expires" in err and "YYYY-MM-DD" in err and "dw_" not in out


def test_tenants_when_plan_changed_and_deactivated_then_listed_so(project: Path, capsys):
    _cli(capsys, "tenants", "create", "acme", "--plan", "free", "-c", project)
    code, out, err = _cli(capsys, "tenants", "set-plan", "acme", "pro", "-c", project)
    assert code == 0 and "free → pro" in out, err
    code, out, _ = _cli(capsys, "tenants", "deactivate", "acme", "-c", project)
    assert code == 0 and "Deactivated" in out
    code, out, _ = _cli(capsys, "tenants", "list", "-c", project)
    row = next(line for line in out.splitlines() if "acme" in line)
    assert "pro" in row and "False" in row
    code, _, err = _cli(capsys, "tenants", "set-plan", "acme", "gold", "-c", project)
    assert code == 2 and "unknown plan 'gold'" in err
