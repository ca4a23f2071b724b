"""The folded inference network equals the trained network it was folded from: the served
probabilities are the ones the evaluation saw (the unfolded forward is the oracle)."""

from __future__ import annotations

import pytest
import torch

from datawheel.errors import DataError
from datawheel.train.model import SMALL_BATCH, TabularMLP

from ._synthetic import make_frame


@pytest.mark.parametrize(
    ("n_numeric", "cardinalities", "hidden"),
    [
        (5, [3, 9, 17, 2], [32, 16]),  # the usual shape: numerics and categoricals
        (0, [4, 40], [8]),  # categoricals only
        (6, [], [16, 8]),  # numerics only
        (3, [5, 7], []),  # no hidden layer: the first layer gives the logits
    ],
)
def test_folded_when_random_weights_then_same_logits_as_the_network(
    n_numeric: int, cardinalities: list[int], hidden: list[int]
) -> None:
    torch.manual_seed(0)
    network = TabularMLP(n_numeric, cardinalities, 3, hidden=hidden, dropout=0.3).eval()
    numeric = torch.randn(64, n_numeric)  # [64, n_numeric]
    categorical = torch.stack(
        [torch.randint(0, c, (64,)) for c in cardinalities], dim=1
    ) if cardinalities else torch.zeros(64, 0, dtype=torch.int64)  # [64, n_cat]  # fmt: skip
    with torch.inference_mode():
        expected = network(numeric, categorical)
        folded = network.folded()(numeric, categorical)
        single = network.folded()(numeric[:1], categorical[:1])
    torch.testing.assert_close(folded, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(single, expected[:1], atol=1e-5, rtol=1e-5)
    in_numpy = network.folded().predict_proba_numpy(numeric.numpy(), categorical.numpy())
    torch.testing.assert_close(
        torch.from_numpy(in_numpy), torch.softmax(expected, dim=1), atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("rows", [1, SMALL_BATCH, SMALL_BATCH + 1, 1000])
def test_folded_when_served_then_trained_model_uses_it_and_matches(trained, rows: int) -> None:
    """Either side of SMALL_BATCH (numpy below, torch above) gives the network's answer."""
    model = trained.model
    numeric, categorical = model.transform(make_frame(rows, seed=3, missing=0.1))
    proba = model.predict_proba_arrays(numeric, categorical)
    assert model.__dict__["_folded"][0] is model.network  # the folded path served them
    with torch.inference_mode():
        logits = model.network(torch.from_numpy(numeric), torch.from_numpy(categorical))
    assert proba.shape == (rows, len(model.classes))
    torch.testing.assert_close(
        torch.from_numpy(proba), torch.softmax(logits, dim=1), atol=1e-6, rtol=1e-5
    )


def test_folded_when_built_then_the_trained_network_is_untouched() -> None:
    network = TabularMLP(3, [4, 5], 2, hidden=[8, 4])
    network.folded()
    assert all(p.requires_grad for p in network.parameters())  # still trainable


def test_folded_when_an_index_is_outside_its_vocabulary_then_data_error_names_the_column(
    trained,
) -> None:
    model = trained.model
    numeric, categorical = model.transform(make_frame(4, seed=5, missing=0.0))
    categorical[2, 1] = model.network.cardinalities[1]  # one past the end of column 1
    with pytest.raises(DataError, match=model.preprocessor.columns.categorical[1]):
        model.predict_proba_arrays(numeric, categorical)
    categorical[2, 1] = -1
    with pytest.raises(DataError, match="outside"):
        model.predict_proba_arrays(numeric, categorical)


def test_folded_when_the_tables_would_be_huge_then_the_network_serves_unfolded(
    trained, monkeypatch
) -> None:
    from datawheel.train import bundle

    model = trained.model
    monkeypatch.setattr(bundle, "FOLD_LIMIT_BYTES", 0)
    model.__dict__.pop("_folded", None)
    numeric, categorical = model.transform(make_frame(8, seed=6, missing=0.1))
    proba = model.predict_proba_arrays(numeric, categorical)
    assert model.__dict__["_folded"][1] is None
    with torch.inference_mode():
        logits = model.network(torch.from_numpy(numeric), torch.from_numpy(categorical))
    torch.testing.assert_close(torch.from_numpy(proba), torch.softmax(logits, dim=1))
    model.__dict__.pop("_folded", None)  # the shared fixture folds again for later tests
