"""Shared random evaluation data for the evaluate tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def binary_data() -> tuple[list[str], np.ndarray, list[str]]:
    """Labels loosely follow the scores, so metrics are neither 0 nor 1."""
    rng = np.random.default_rng(1)
    proba = np.random.default_rng(2).dirichlet(np.ones(2), size=500)
    y = np.where(rng.random(500) < 0.3 + 0.4 * proba[:, 1], "yes", "no")
    return y.tolist(), proba, ["no", "yes"]
