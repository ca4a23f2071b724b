"""Explanations: additivity, agreement with shap's exact values, sampling accuracy, LIME."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from datawheel.errors import UsageError
from datawheel.evaluate.explain import explain_arrays, global_importance, players_of
from datawheel.evaluate.shapley import Background, exact_shapley
from datawheel.train import FeatureColumns, Preprocessor, TabularMLP, TrainedModel

N_NUMERIC = 5


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    """A random (untrained, so non-linear in every input) MLP on 5 numerics and 2 categoricals;
    x0 has missing values in training, so it owns two array positions (value + indicator)."""
    rng = np.random.default_rng(0)
    n = 300
    data = {f"x{i}": rng.normal(size=n) for i in range(N_NUMERIC)}
    data["x0"] = np.where(rng.random(n) < 0.1, np.nan, data["x0"])
    frame = pl.DataFrame(data).with_columns(
        pl.Series("color", rng.choice(["red", "green", "blue"], n)),
        pl.Series("size", rng.choice(["S", "M", "L"], n)),
    )
    pre = Preprocessor(
        FeatureColumns(numeric=[f"x{i}" for i in range(N_NUMERIC)], categorical=["color", "size"])
    ).fit(frame)
    torch.manual_seed(0)
    net = TabularMLP(pre.n_numeric_features, pre.cardinalities, 3, hidden=[32, 16], dropout=0.0)
    num, cat = pre.transform(frame)
    model = TrainedModel(pre, net, ["a", "b", "c"], target="y", background=(num[:40], cat[:40]))
    model.frame = frame  # type: ignore[attr-defined]  # the rows, for the tests below
    return model


def _rows(model: TrainedModel, n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    return model.transform(model.frame.slice(200, n))  # type: ignore[attr-defined]


def test_players_when_numeric_has_missing_indicator_then_one_column_owns_both() -> None:
    pre = Preprocessor(FeatureColumns(numeric=["a", "b"], categorical=["c"])).fit(
        pl.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0], "c": ["x", "y", "x"]})
    )
    players = players_of(pre)
    assert players.names == ["a", "b", "c"]
    assert players.numeric_owner.tolist() == [0, 1, 0]  # a, b, then a's missing indicator
    assert players.categorical_owner.tolist() == [2]


def test_players_when_text_column_then_its_whole_block_is_one_column() -> None:
    if "text" not in FeatureColumns.__dataclass_fields__:
        pytest.skip("this Preprocessor has no text columns")
    frame = pl.DataFrame({"a": [1.0, 2.0, 3.0], "note": ["late fee", "refund please", None]})
    pre = Preprocessor(FeatureColumns(numeric=["a"], text=["note"]), text_buckets=16).fit(frame)
    players = players_of(pre)
    assert players.names == ["a", "note"]
    assert players.numeric_owner.tolist() == [0] + [1] * 16
    net = TabularMLP(pre.n_numeric_features, [], 2, hidden=[8], dropout=0.0)
    num, cat = pre.transform(frame)
    model = TrainedModel(pre, net, ["n", "y"], target="t", background=(num, cat))
    for entry in model.explain(frame):
        assert list(entry["values"]) == ["a", "note"]  # one attribution for the whole text


@pytest.mark.parametrize(
    "method",
    [
        "exact",  # every coalition
        "sampling",  # antithetic permutations: additive by construction
        "lime",  # base_value is set so the contract holds
    ],
)
def test_explain_when_any_method_then_base_plus_values_equals_output(model, method) -> None:
    num, cat = _rows(model)
    result = explain_arrays(model, num, cat, method=method, pairs=20)
    proba = model.predict_proba_arrays(num, cat)
    assert [model.classes.index(x) for x in result.labels] == proba.argmax(axis=1).tolist()
    np.testing.assert_allclose(result.outputs, proba.max(axis=1), atol=1e-6)
    total = result.base_values + result.values.sum(axis=1)
    np.testing.assert_allclose(total, result.outputs, atol=1e-5)
    assert result.values.shape == (len(num), N_NUMERIC + 2)


@pytest.mark.slow  # shap's ExactExplainer compiles its numba kernels on first use: 10-25 s
def test_exact_when_compared_with_shap_exact_explainer_then_within_1e4(model) -> None:
    shap = pytest.importorskip("shap")
    # shap sees one array column per input column, so use rows and background rows whose x0 is
    # present (its missing indicator, a second position of the same column, is then 0)
    num, cat = model.transform(model.frame)  # type: ignore[attr-defined]
    present = np.flatnonzero(num[:, -1] == 0)
    bg_num, bg_cat = num[present[:12]], cat[present[:12]]
    x_num, x_cat = num[present[-3:]], cat[present[-3:]]
    ours = explain_arrays(
        model, x_num, x_cat, method="exact", label="b", background=(bg_num, bg_cat)
    )

    def f(z: np.ndarray) -> np.ndarray:
        numeric = np.hstack([z[:, :N_NUMERIC], np.zeros((len(z), 1))]).astype(np.float32)
        return model.predict_proba_arrays(numeric, z[:, N_NUMERIC:].astype(np.int64))[:, 1]

    flat_bg = np.hstack([bg_num[:, :N_NUMERIC], bg_cat]).astype(np.float64)
    reference = shap.explainers.Exact(f, flat_bg)(np.hstack([x_num[:, :N_NUMERIC], x_cat]))
    np.testing.assert_allclose(ours.values, reference.values, atol=1e-4)
    np.testing.assert_allclose(ours.base_values, reference.base_values, atol=1e-5)


@pytest.mark.parametrize("batch_rows", [65_536, 300])  # one pass; many passes of a few rows
def test_exact_when_network_split_at_first_layer_then_same_values_as_calling_it(
    model, batch_rows: int
) -> None:
    num, cat = _rows(model, 7)
    players, bg = players_of(model.preprocessor), _background_of(model)
    proba = model.predict_proba_arrays(num, cat)
    label, output = proba.argmax(axis=1), proba.max(axis=1)
    args = (model.predict_proba_arrays, players, num, cat, bg, label, output)
    called = exact_shapley(*args, batch_rows=batch_rows)  # composed rows through the network
    split = exact_shapley(*args, batch_rows=batch_rows, additive=model.additive_network())
    np.testing.assert_allclose(split, called, atol=1e-6)


def test_exact_when_text_column_then_split_and_called_network_agree() -> None:
    frame = pl.DataFrame(
        {
            "a": [1.0, 2.0, None, 4.0, 5.0, 6.0],
            "note": ["退款很慢", "快递员送货很快", None, "客服态度好", "refund please", "很好"],
            "city": ["深圳", "北京", "深圳", "上海", "北京", "深圳"],
        }
    )
    columns = FeatureColumns(numeric=["a"], categorical=["city"], text=["note"])
    pre = Preprocessor(columns, text_buckets=64).fit(frame)
    torch.manual_seed(1)
    net = TabularMLP(pre.n_numeric_features, pre.cardinalities, 2, hidden=[16, 8], dropout=0.0)
    num, cat = pre.transform(frame)
    model = TrainedModel(pre, net, ["n", "y"], target="t", background=(num[:4], cat[:4]))
    players = players_of(pre)
    bg = _background_of(model)
    proba = model.predict_proba_arrays(num, cat)
    args = (model.predict_proba_arrays, players, num, cat, bg, proba.argmax(1), proba.max(1))
    np.testing.assert_allclose(
        exact_shapley(*args, batch_rows=64, additive=model.additive_network()),
        exact_shapley(*args, batch_rows=64),
        atol=1e-6,
    )


def _background_of(model: TrainedModel) -> Background:
    num, cat = model.background  # type: ignore[misc]
    return Background(num, cat, model.predict_proba_arrays(num, cat).astype(np.float64))


def test_sampling_when_compared_with_exact_then_correlation_above_099(model) -> None:
    num, cat = _rows(model, 8)
    exact = explain_arrays(model, num, cat, method="exact")
    sampled = explain_arrays(model, num, cat, method="sampling", pairs=200)
    assert np.corrcoef(exact.values.ravel(), sampled.values.ravel())[0, 1] >= 0.99
    np.testing.assert_allclose(sampled.base_values, exact.base_values, atol=1e-12)


def test_sampling_when_row_explained_alone_or_in_a_batch_then_same_values(model) -> None:
    num, cat = _rows(model, 4)
    batch = explain_arrays(model, num, cat, method="sampling", pairs=40)
    alone = explain_arrays(model, num[2:3], cat[2:3], method="sampling", pairs=40)
    np.testing.assert_allclose(alone.values[0], batch.values[2], atol=1e-6)


def test_shap_when_few_columns_then_exact_else_sampling(model) -> None:
    num, cat = _rows(model, 2)
    assert explain_arrays(model, num, cat).method == "exact"
    assert explain_arrays(model, num, cat, exact_max_evals=10).method == "sampling"


def test_lime_when_fitted_then_local_prediction_close_to_model(model) -> None:
    num, cat = _rows(model, 4)
    result = explain_arrays(model, num, cat, method="lime", n_samples=2000)
    local = np.array([s["local_prediction"] for s in result.surrogate])
    assert np.abs(local - result.outputs).max() < 0.05
    assert len(result.columns) == result.values.shape[1] == N_NUMERIC + 2


def test_lime_when_compared_with_lime_package_then_top_columns_agree() -> None:
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({f"x{i}": rng.normal(size=400) for i in range(4)})
    pre = Preprocessor(FeatureColumns(numeric=[f"x{i}" for i in range(4)])).fit(frame)
    net = TabularMLP(4, [], 2, hidden=[], dropout=0.0)  # logistic regression with set weights
    with torch.no_grad():
        net.mlp[0].weight.copy_(torch.tensor([[0.0] * 4, [2.0, -1.0, 0.3, 0.0]]))
        net.mlp[0].bias.zero_()
    num, cat = pre.transform(frame)
    model = TrainedModel(pre, net, ["no", "yes"], target="y", background=(num[:100], cat[:100]))
    row = np.array([[1.0, -1.0, 1.0, 1.0]], np.float32)  # one std from the mean everywhere
    ours = explain_arrays(model, row, cat[:1], method="lime", label="yes", n_samples=2000)
    explainer = lime_tabular.LimeTabularExplainer(
        num[:300], discretize_continuous=False, random_state=0
    )
    theirs = explainer.explain_instance(
        row[0],
        lambda z: model.predict_proba_arrays(z, np.zeros((len(z), 0), np.int64)),
        num_features=4,
        num_samples=2000,
        labels=(1,),
    )
    their_weights = dict(theirs.as_list(label=1))
    their_rank = sorted(range(4), key=lambda i: -abs(their_weights.get(f"{i}", 0.0)))
    our_rank = np.argsort(-np.abs(ours.values[0])).tolist()
    assert our_rank[:2] == their_rank[:2] == [0, 1]  # the two large coefficients lead in both


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "magic"}, "unknown explanation method"),  # not one of METHODS
        ({"label": "zzz"}, "not one of the classes"),  # a class the model does not have
        ({"pairs": 0}, "pairs must be >= 1"),  # an empty sampling budget
    ],
)
def test_explain_when_bad_option_then_usage_error(model, options, message) -> None:
    num, cat = _rows(model, 1)
    with pytest.raises(UsageError, match=message):
        explain_arrays(model, num, cat, **options)


def test_model_explain_when_dicts_or_dataframe_then_same_contract(model) -> None:
    frame = model.frame.slice(210, 3)
    from_frame = model.explain(frame)
    from_dicts = model.explain(frame.to_dicts())
    assert from_frame == from_dicts
    for entry, p in zip(from_frame, model.predict_proba(frame), strict=True):
        assert set(entry) == {"label", "base_value", "values", "scale"}
        assert entry["scale"] == "probability"  # what base value + values add up to
        assert list(entry["values"]) == [*(f"x{i}" for i in range(N_NUMERIC)), "color", "size"]
        total = entry["base_value"] + sum(entry["values"].values())
        assert abs(total - p[model.classes.index(entry["label"])]) < 1e-5


def test_global_importance_when_rows_then_mean_abs_value_per_column(model) -> None:
    importance = global_importance(model, model.frame.slice(0, 50), max_rows=20)
    assert list(importance) == [*(f"x{i}" for i in range(N_NUMERIC)), "color", "size"]
    assert all(v >= 0 for v in importance.values()) and sum(importance.values()) > 0


@pytest.mark.parametrize("method", ["exact", "sampling", "lime"])
def test_explain_when_asked_to_stop_then_cancelled_at_the_next_forward_pass(model, method):
    from datawheel.errors import Cancelled

    numeric, categorical = _rows(model)
    passes = []

    def should_stop() -> bool:
        passes.append(1)
        return len(passes) > 2  # the third forward pass is refused

    with pytest.raises(Cancelled):
        explain_arrays(model, numeric, categorical, method=method, batch_rows=64,
                       should_stop=should_stop)  # fmt: skip
    assert len(passes) == 3  # no pass ran after the answer turned True


def test_explain_when_never_stopped_then_same_values_as_without_the_check(model):
    numeric, categorical = _rows(model)
    plain = explain_arrays(model, numeric, categorical, method="exact")
    checked = explain_arrays(model, numeric, categorical, method="exact", should_stop=lambda: False)
    np.testing.assert_array_equal(plain.values, checked.values)
