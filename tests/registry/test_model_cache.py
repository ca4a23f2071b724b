"""The bounded model cache: least recently used out, owned by its holder, no global cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datawheel.errors import UsageError
from datawheel.project.pipeline import Project
from datawheel.registry.model_cache import ModelCache
from datawheel.registry.versions import (
    ModelVersion,
    get_version,
    load_version_model,
    promote,
    register_model,
    rollback,
)
from datawheel.serve.model_holder import ModelHolder
from datawheel.store.workspace import Workspace


@pytest.fixture
def four_versions(project_copy: Path) -> Iterator[tuple[Workspace, list[ModelVersion]]]:
    """v1 (trained) and v2–v4 registered from its model: four versions to cache."""
    with Project.load(project_copy).open_workspace() as ws:
        v1 = get_version(ws, "v1")
        model = load_version_model(ws, v1)
        versions = [v1] + [
            register_model(
                ws,
                model,
                dataset_id=v1.dataset_id,
                eval_dataset_id=None,
                metrics={"accuracy": 0.5},
                fairness={},
            )
            for _ in range(3)
        ]
        yield ws, versions


def test_model_cache_when_more_versions_than_room_then_least_recently_used_reloaded(
    four_versions: tuple[Workspace, list[ModelVersion]],
) -> None:
    ws, (v1, v2, v3, _) = four_versions
    cache = ModelCache(max_models=2)
    first = cache.get(ws, v1)
    assert cache.get(ws, v1) is first and cache.loads == 1  # a hit
    cache.get(ws, v2)
    cache.get(ws, v1)  # v1 is now the most recently used …
    cache.get(ws, v3)  # … so v2 makes room
    assert len(cache) == 2 and cache.loads == 3
    assert cache.get(ws, v1) is first and cache.loads == 3
    assert cache.get(ws, v2).version == "v2" and cache.loads == 4  # reloaded, its own id


def test_load_version_model_when_called_twice_then_fresh_models_no_global_cache(
    four_versions: tuple[Workspace, list[ModelVersion]],
) -> None:
    ws, (v1, v2, *_) = four_versions
    assert load_version_model(ws, v1) is not load_version_model(ws, v1)
    # v2 shares v1's artifact but is its own version: ids never leak between them
    assert (load_version_model(ws, v1).version, load_version_model(ws, v2).version) == ("v1", "v2")


def test_model_holder_when_promoted_through_versions_then_cache_bounded_and_rollback_free(
    four_versions: tuple[Workspace, list[ModelVersion]],
) -> None:
    ws, versions = four_versions
    holder = ModelHolder(ws, refresh_seconds=0.0, max_models=3)
    assert holder.current()[0] == "v1"
    for version in versions[1:]:
        promote(ws, version.id)
        assert holder.current()[0] == version.id
    assert len(holder.models) == 3 and holder.models.loads == 4
    rollback(ws)  # back to v3, still held: served without reading the artifact again
    assert holder.current()[0] == "v3" and holder.models.loads == 4


def test_model_cache_when_no_room_then_usage_error() -> None:
    with pytest.raises(UsageError, match="max_models"):
        ModelCache(max_models=0)
