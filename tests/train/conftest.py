"""Fixtures of the training tests."""

from __future__ import annotations

import pytest

from datawheel.train import TrainResult

from ._synthetic import fit, make_frame


@pytest.fixture(scope="session")
def trained() -> TrainResult:
    """One model trained on data with missing values, shared by the read-only tests."""
    return fit(make_frame(1500, seed=1, missing=0.1), make_frame(500, seed=2, missing=0.1))
