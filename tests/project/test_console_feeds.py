"""What the console shows from the offline half: the champion's alerts as ``status`` words them
(a privacy policy that now forbids what it was trained under, above all) and model cards drawn
in the background, in the reader's language."""

from __future__ import annotations

from pathlib import Path

import yaml

from datawheel.i18n.catalog import translate, use_language
from datawheel.project.console_feeds import cached_alerts, card_drawer
from datawheel.project.pipeline import Project
from datawheel.project.status import project_status
from waiting import wait_until


def test_alerts_when_policy_now_forbids_the_champions_training_then_the_same_as_status(
    project_copy: Path,
) -> None:
    raw = yaml.safe_load(project_copy.read_text())
    before = Project.load(project_copy)
    raw["privacy"]["columns"]["email"] = "redact"  # trained under pseudonymize
    raw["privacy"]["columns"]["native_country"] = "drop"  # a feature of v1
    project_copy.write_text(yaml.safe_dump(raw))
    stricter = Project.load(project_copy)
    with stricter.open_workspace() as ws:
        assert cached_alerts(ws, before.config)() == []
        alerts = cached_alerts(ws, stricter.config, every=0.0)()
        status = project_status(ws, stricter.config)["alerts"]
    policy = [a for a in alerts if "privacy policy" in a]
    assert len(policy) == 2 and set(policy) <= set(status)
    with use_language("zh_CN"):  # the console shows them translated, values kept
        shown = translate(next(a for a in policy if "older" in a))
    assert "旧的隐私策略" in shown and "email" in shown and "v1" in shown


def test_card_when_asked_then_drawn_in_the_background_in_the_readers_language(
    project_copy: Path,
) -> None:
    project = Project.load(project_copy)
    with project.open_workspace() as ws:
        cards = card_drawer(ws, project.config)
        assert cards("v1", "zh_CN") is None  # drawing: the page waits
        html = wait_until(lambda: cards("v1", "zh_CN"), what="the card", timeout=300)
        assert cards("v1", "zh_CN") is html  # kept
        english = wait_until(lambda: cards("v1", "en"), what="the English card", timeout=300)
    assert '<html lang="zh-CN">' in html and "v1" in html and "roc_auc" in html
    assert '<html lang="en">' in english
    missing = card_drawer_missing(project_copy)
    assert "could not be drawn" in missing and "v9" in missing


def card_drawer_missing(project_copy: Path) -> str:
    project = Project.load(project_copy)
    with project.open_workspace() as ws:
        cards = card_drawer(ws, project.config)
        cards("v9", "en")
        return wait_until(lambda: cards("v9", "en"), what="the refusal page")
