"""`datawheel run` is honest about its inputs: it warns about a PII-looking column without a
privacy rule (and refuses with ``privacy.require_rules``), sends a re-run through the gate and
says why, and a champion the current privacy policy forbids is flagged by `status` and
replaced by a re-run that is no worse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from faker import Faker

from datawheel.secret import KEY_FILE, generate_key_file
from in_process import run_main

pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    """(exit code, stdout on one line, stderr): rich wraps long lines at the terminal width."""
    done = run_main(*args, cwd=cwd)
    return done.returncode, " ".join(done.stdout.split()), done.stderr


def _write_config(root: Path, privacy: dict) -> None:
    config = {
        "name": "customers",
        "data": {"source": "customers.csv", "target": "churned"},
        "model": {"kind": "linear"},
        "privacy": privacy,
        "gates": {"max_latency_ms": 60_000},  # a loaded test machine must not fail the gate
    }
    (root / "datawheel.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    """E-mail addresses in ``contact``; ``email`` is the yes/no answer to "may we e-mail you?"."""
    fake = Faker("en_US")
    Faker.seed(0)
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    pl.DataFrame({
        "contact": [fake.email() for _ in range(n)],
        "email": rng.choice(["yes", "no"], n),
        "x": x,
        "plan": rng.choice(["a", "b", "c"], n),
        "churned": np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no"),
    }).write_csv(tmp_path / "customers.csv")  # fmt: skip
    generate_key_file(tmp_path / KEY_FILE)
    return tmp_path


def test_run_when_pii_column_has_no_rule_then_warned_refused_gated_and_flagged(
    customers: Path,
) -> None:
    _write_config(customers, {"columns": {}, "require_rules": True})
    code, out, err = _cli("run", cwd=customers)
    assert code == 2 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert "'contact' looks like EMAIL" in err and "privacy.columns.contact: pseudonymize" in err
    assert "'email'" not in err  # a yes/no column named email is not an e-mail address

    _write_config(customers, {"columns": {}})  # warned, not refused
    code, out, err = _cli("run", cwd=customers)
    assert code == 0, err
    assert "WARNING: column 'contact' looks like EMAIL" in out and "'email'" not in out
    assert "model v1 (champion)" in out

    code, out, _ = _cli("run", cwd=customers)  # the same again: a tie never promotes
    assert code == 0
    assert "gate vs champion v1: reject" in out and "FAIL roc_auc" in out

    _write_config(customers, {"columns": {"contact": "pseudonymize"}})
    code, out, _ = _cli("status", cwd=customers)
    assert "v1 was trained on column 'contact' as a feature" in out
    code, out, _ = _cli("run", cwd=customers)  # v1 must go: being no worse is enough
    assert code == 0
    assert "gate vs champion v1: promote" in out
    assert "note the champion breaks the current privacy policy" in out
    assert "retrain under the current privacy policy: must stay above -0.02" in out
    code, out, _ = _cli("status", cwd=customers)
    assert "v1 was trained on column" not in out and "no alerts" in out
