"""Fixtures of the training tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from datawheel.train import TrainResult

from ._synthetic import fit, make_frame


@pytest.fixture(scope="session")
def trained() -> TrainResult:
    """One model trained on data with missing values, shared by the read-only tests."""
    return fit(make_frame(1500, seed=1, missing=0.1), make_frame(500, seed=2, missing=0.1))


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Frozen MiniLM vectors are cached in a temporary directory, never in ~/.cache."""
    before = os.environ.get("DATAWHEEL_EMBED_CACHE")
    os.environ["DATAWHEEL_EMBED_CACHE"] = str(tmp_path_factory.mktemp("embed-cache"))
    yield
    if before is None:
        os.environ.pop("DATAWHEEL_EMBED_CACHE", None)
    else:
        os.environ["DATAWHEEL_EMBED_CACHE"] = before
