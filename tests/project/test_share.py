"""Releases for partners: signed, keyed per partner, k-anonymous, optionally encrypted, audited,
listed on erasure; DP statistics spend from a ledger that refuses what does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from datawheel.cli.main import main
from datawheel.errors import DataError
from datawheel.io import read_table
from datawheel.privacy.erasure import erase_subject
from datawheel.privacy.kanon import check_k_anonymity
from datawheel.privacy.release import ReleasePolicy
from datawheel.project.pipeline import Project
from datawheel.project.share import (
    generate_partner_keys,
    list_releases,
    share_dataset,
    share_stats,
    verify_release,
)
from datawheel.signing import load_public_key, public_key_pem
from datawheel.store.audit import entries
from datawheel.store.privacy_budget import BudgetExceeded
from datawheel.store.trusted_keys import trusted_keys

POLICY = {
    "purpose": "income research",
    "keep": ["age", "sex", "race", "education", "hours_per_week", "income"],
    "k_anonymity": {"quasi_identifiers": ["age", "sex", "race"], "k": 5},
}


@pytest.fixture
def project(project_copy: Path):
    loaded = Project.load(project_copy)
    ws = loaded.open_workspace()
    yield loaded, ws
    ws.close()


def _share(project, out: Path, partner: str = "acme", **kwargs):
    loaded, ws = project
    source = str(loaded.config.source_path(loaded.dir))
    return share_dataset(
        ws,
        source,
        partner=partner,
        output=out,
        config=loaded.config,
        policy=ReleasePolicy.model_validate(POLICY),
        **kwargs,
    )


def test_share_when_policy_then_signed_release_keyed_for_the_partner_and_k_anonymous(
    project, tmp_path
):
    loaded, ws = project
    receipt = _share(project, tmp_path / "rel")
    files = sorted(p.name for p in (tmp_path / "rel").iterdir())
    assert files == ["data.parquet", "datasheet.html", "manifest.json"]
    data = pl.read_parquet(tmp_path / "rel" / "data.parquet")
    assert set(data.columns) == {"person_id", *POLICY["keep"]}  # name, email, ssn … dropped
    raw = read_table(loaded.config.source_path(loaded.dir))
    assert not set(data["person_id"]) & set(raw["person_id"].cast(pl.String))  # never raw ids
    other = _share(project, tmp_path / "rel2", partner="globex")
    data2 = pl.read_parquet(tmp_path / "rel2" / "data.parquet")
    assert not set(data["person_id"]) & set(data2["person_id"])  # partners cannot join
    assert check_k_anonymity(data, ["age", "sex", "race"], 5).satisfied
    sheet = (tmp_path / "rel" / "datasheet.html").read_text()
    assert "not in the policy&#x27;s keep list" in sheet and "cannot be recalled" in sheet
    assert receipt.rows == data.height < raw.height  # rare combinations suppressed
    assert [r["id"] for r in list_releases(ws)] == [receipt.id, other.id]
    assert any(e.action == "release.create" and e.target == receipt.id for e in entries(ws.engine))
    report = verify_release(tmp_path / "rel", trusted=trusted_keys(ws))
    assert report.ok and report.signer_trusted


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: (d / "data.parquet").write_bytes(b"PAR1 edited"), "data.parquet"),
        (lambda d: (d / "datasheet.html").unlink(), "datasheet.html"),
        (
            lambda d: (d / "manifest.json").write_text(
                (d / "manifest.json").read_text().replace('"rows": ', '"rows": 1')
            ),
            "changed after signing",
        ),
    ],
)
def test_verify_when_release_tampered_then_data_error_names_it(project, tmp_path, tamper, message):
    _share(project, tmp_path / "rel")
    tamper(tmp_path / "rel")
    with pytest.raises(DataError, match=message):
        verify_release(tmp_path / "rel")


def test_verify_when_pinned_key_is_not_the_signers_then_refused(project, tmp_path, secret_key):
    _share(project, tmp_path / "rel")
    stranger = load_public_key(public_key_pem(secret_key.signing_key.public_key()), where="x")
    with pytest.raises(DataError, match="not the project's"):
        verify_release(tmp_path / "rel", pinned=stranger)


def test_share_when_encrypted_to_partner_then_only_their_key_decrypts(project, tmp_path):
    private, public = generate_partner_keys(tmp_path / "acme")
    other_private, _ = generate_partner_keys(tmp_path / "globex")
    assert private.stat().st_mode & 0o777 == 0o600
    _share(project, tmp_path / "sealed", recipient_key=public)
    assert not (tmp_path / "sealed" / "data.parquet").exists()
    with pytest.raises(DataError, match="encrypted to another"):
        verify_release(tmp_path / "sealed", private_key=other_private)
    report = verify_release(tmp_path / "sealed", private_key=private)
    _share(project, tmp_path / "plain")
    opened = pl.read_parquet(report.decrypted_to)
    assert opened.equals(pl.read_parquet(tmp_path / "plain" / "data.parquet"))


def test_erase_when_subject_was_released_then_receipt_lists_the_release(project, tmp_path):
    loaded, ws = project
    receipt = _share(project, tmp_path / "rel")
    subject = str(read_table(loaded.config.source_path(loaded.dir))["person_id"][0])
    erased = erase_subject(ws, subject, id_column=loaded.config.data.id)
    assert [r["release"] for r in erased.releases_not_recalled] == [receipt.id]


def test_share_stats_when_budget_spent_then_refused_with_what_is_left(project, tmp_path):
    loaded, ws = project
    source = str(loaded.config.source_path(loaded.dir))
    kwargs = {
        "group_by": ["sex"],
        "measures": "count,mean:age",
        "bounds": ["age=0:120"],
        "keys": ["sex=Female|Male"],
        "config": loaded.config,
    }
    first = share_stats(ws, source, epsilon=2.0, output=tmp_path / "s.csv", **kwargs)
    rows = pl.read_csv(tmp_path / "s.csv")
    assert rows["sex"].to_list() == ["Female", "Male"] and "mean_age_interval" in rows.columns
    assert first.budget.epsilon_spent == pytest.approx(2.0)
    with pytest.raises(BudgetExceeded, match=r"has epsilon=1, delta=1e-06 left"):
        share_stats(ws, source, epsilon=1.5, output=tmp_path / "t.csv", **kwargs)
    assert not (tmp_path / "t.csv").exists()
    share_stats(ws, source, epsilon=1.0, output=tmp_path / "u.csv", **kwargs)  # the rest fits


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_share_cli_when_over_budget_or_bad_input_then_exit_2_one_line(
    project_copy, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(project_copy.parent)
    base = ("share", "stats", "data/adult.csv.gz", "--group-by", "sex", "--keys", "sex=Female|Male")
    code, out = _cli(capsys, *base, "--measure", "count", "--epsilon", "3", "-o", "a.csv")
    assert code == 0, out
    code, out = _cli(capsys, *base, "--measure", "count", "--epsilon", "0.1", "-o", "b.csv")
    assert code == 2 and "left" in out and len(out.strip().splitlines()) == 1
    code, out = _cli(capsys, *base, "--measure", "mean:age", "--epsilon", "0.1", "-o", "c.csv")
    assert code == 2 and "--bounds age=" in out
    policy = tmp_path / "p.yaml"
    policy.write_text(json.dumps({"keep": ["nope"]}))
    code, out = _cli(
        capsys, "share", "data/adult.csv.gz", "--to", "x", "--policy", str(policy), "-o", "r"
    )
    assert code == 2 and "nope" in out


def test_signatures_when_secret_rotated_then_old_releases_still_verify(project, tmp_path):
    from datawheel.privacy.rotation import rotate_key

    loaded, ws = project
    _share(project, tmp_path / "before")
    old_key = trusted_keys(ws)
    rotate_key(ws, privacy=loaded.config.privacy, id_column=loaded.config.data.id,
               key_file=loaded.dir / "datawheel.key")  # fmt: skip
    reopened = loaded.open_workspace()
    try:
        now = trusted_keys(reopened)
        assert set(old_key) < set(now)  # the new key, and the old one remembered
        assert verify_release(tmp_path / "before", trusted=now).signer_trusted
    finally:
        reopened.close()
