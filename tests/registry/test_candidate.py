"""One registration path: a trained candidate becomes a version through `register_candidate`."""

from __future__ import annotations

import re
from pathlib import Path

from datawheel.config import DataConfig, ModelConfig, ProjectConfig, TrainConfig
from datawheel.registry.candidate import register_candidate, train_candidate
from datawheel.store.datasets import save_dataset
from datawheel.store.runs import get_run
from datawheel.store.workspace import Workspace
from train._synthetic import make_frame  # tests/ is on sys.path (rootdir)

SRC = Path(__file__).resolve().parents[2] / "src" / "datawheel"


def _config() -> ProjectConfig:
    return ProjectConfig(
        name="synthetic",
        data=DataConfig(source="unused.csv", target="label"),
        model=ModelConfig(hidden=[16]),
        train=TrainConfig(epochs=2, batch_size=64, checkpoint=False),
    )


def test_register_candidate_when_trained_twice_then_versions_carry_what_the_gate_reads(
    sqlite_workspace: Workspace,
) -> None:
    ws, config = sqlite_workspace, _config()
    train, val, test = (make_frame(n, seed=s) for n, s in ((300, 1), (100, 2), (150, 3)))
    dataset = save_dataset(ws, train, kind="train", name="train", encrypted=False)
    held_out = save_dataset(ws, test, kind="test", name="test", encrypted=False)
    versions = []
    for notes in ("", "retrained: drift"):
        candidate = train_candidate(ws, config, train=train, val=val, test=test,
                                    dataset_id=dataset.id)  # fmt: skip
        assert candidate is not None
        version = register_candidate(
            ws, candidate, dataset_id=dataset.id, eval_dataset_id=held_out.id, notes=notes
        )
        versions.append(version)
        metrics = versions[-1].metrics
        assert metrics["latency_p99_ms"] == candidate.latency_p99_ms > 0
        assert metrics["fairness_gap"] == candidate.assessment.gap
        assert metrics["accuracy"] == candidate.assessment.metrics["accuracy"]
        assert versions[-1].run_id == candidate.run_id
        assert get_run(ws, candidate.run_id).status == "finished"
    first, second = versions
    assert (first.stage, second.stage) == ("champion", "challenger")
    assert second.notes == "retrained: drift" and second.eval_dataset_id == held_out.id


def test_source_when_searched_then_only_the_registry_calls_register_model() -> None:
    """`run` and the loop register through register_candidate, never around it."""
    callers = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\bregister_model\(", p.read_text(encoding="utf-8"))
        and p.parent.name != "registry"
    )
    assert callers == []
