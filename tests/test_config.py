"""The project file: valid files load; broken ones name the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.config import load_config, parse_config, read_tuned, reference_tuned
from datawheel.errors import ConfigError

BASE = {"name": "p", "data": {"source": "data.csv", "target": "y"}}


def _with(**sections: object) -> dict[str, object]:
    return {**BASE, **sections}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a typo'd key is named, with the close match suggested
        (_with(train={"epoch": 3}), ["train.epoch", "unknown key", "epochs"]),
        # a typo'd section too
        (_with(trian={}), ["trian", "did you mean 'train'"]),
        # a wrong type names the key and the bad value
        (_with(train={"epochs": "many"}), ["train.epochs", "'many'"]),
        # a rule breaks a bound: the key and the value
        (_with(train={"batch_size": 0}), ["train.batch_size", "0"]),
        # a missing required key
        ({"name": "p", "data": {"source": "a.csv"}}, ["data.target", "missing"]),
        # an unknown privacy operator lists the valid ones
        (_with(privacy={"columns": {"email": "scramble"}}), ["privacy.columns", "pseudonymize"]),
        # the top level must be a mapping
        (["not", "a", "mapping"], ["mapping"]),
        # the next release's keys: a metric that does not exist, with the close match
        (_with(evaluate={"metric": "auc"}), ["evaluate.metric", "did you mean 'roc_auc'"]),
        # confidence is a probability below 1
        (_with(gates={"confidence": 1.0}), ["gates.confidence", "1.0"]),
        # a negative non-inferiority margin makes no sense
        (_with(gates={"erasure_margin": -0.1}), ["gates.erasure_margin", "-0.1"]),
        # min_improvement is a gain, never a licence to get worse
        (_with(gates={"min_improvement": -0.01}), ["gates.min_improvement", "-0.01"]),
        (_with(gates={"min_group_size": 0}), ["gates.min_group_size", "0"]),
        # the time column cannot be the label
        (
            {"name": "p", "data": {"source": "a.csv", "target": "y", "time": "y"}},
            ["data.time", "cannot be the target"],
        ),
        # class weights: on, off or auto (the union's type tags are not shown as keys)
        (_with(train={"class_weights": "sometimes"}), ["train.class_weights", "'sometimes'"]),
    ],
)
def test_parse_config_when_invalid_then_error_names_key_and_value(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    message = str(info.value)
    for part in expected:
        assert part in message


def test_parse_config_when_minimal_then_defaults_fill_the_rest():
    config = parse_config(BASE)
    assert config.train.epochs == 30
    assert config.gates.max_fairness_gap == 0.1
    assert config.gates.confidence == 0.95 and config.gates.min_group_size == 30
    assert config.evaluate.metric is None  # the task's default: roc_auc, balanced_accuracy, …
    assert config.train.class_weights == "auto"
    assert config.data.time is None and config.data.positive_class is None


def test_parse_config_when_positive_class_is_a_yaml_number_then_compared_as_text():
    config = parse_config({**BASE, "data": {**BASE["data"], "positive_class": 1}})
    assert config.data.positive_class == "1"
    assert set(config.serve.plans) == {"free", "pro"}
    assert config.loop.accuracy_below == 0.9


def test_load_config_when_source_missing_then_error_names_file(tmp_path: Path):
    path = tmp_path / "datawheel.yaml"
    path.write_text("name: p\ndata: {source: nowhere.csv, target: y}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "data.source" in str(info.value)
    assert "nowhere.csv" in str(info.value)


def test_load_config_when_yaml_broken_then_line_and_column(tmp_path: Path):
    path = tmp_path / "datawheel.yaml"
    path.write_text("name: p\ndata:\n  source: [unclosed\n  target: y\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, check_source=False)
    assert f"{path}:" in str(info.value)
    assert "invalid YAML" in str(info.value)


def test_load_config_when_file_missing_then_hint_init(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "datawheel.yaml")
    assert "datawheel init" in str(info.value)


def _tuned_project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "data.csv").write_text("x,y\n1,a\n")
    path = tmp_path / "datawheel.yaml"
    path.write_text(
        "name: p  # a comment that must survive\ndata: {source: data.csv, target: y}\n"
        "train: {epochs: 7, lr: 0.01}\n" + extra
    )
    return path


def test_load_config_when_tuned_file_beside_but_not_named_then_not_merged(tmp_path: Path):
    path = _tuned_project(tmp_path)
    (tmp_path / "datawheel.tuned.yaml").write_text("train: {lr: 0.003}\n")
    assert load_config(path).train.lr == 0.01  # no hidden overlay
    assert read_tuned(path) is None


def test_load_config_when_tuned_file_named_then_merged_over_model_and_train(tmp_path: Path):
    path = _tuned_project(tmp_path, "tuned: tuned/best.yaml\n")
    (tmp_path / "tuned").mkdir()
    (tmp_path / "tuned" / "best.yaml").write_text("train: {lr: 0.003}\nmodel: {dropout: 0.2}\n")
    config = load_config(path)
    assert (config.train.lr, config.train.epochs, config.model.dropout) == (0.003, 7, 0.2)
    assert read_tuned(path).flat() == {"train.lr": 0.003, "model.dropout": 0.2}


@pytest.mark.parametrize(
    ("tuned", "message", "where"),
    [
        (None, "tuned file not found", "datawheel.yaml: tuned"),  # named, not written yet
        ("train: {lr: -1}\n", "greater than 0", "best.yaml: train.lr"),  # the tuned file's value
        ("data: {target: z}\n", "only model: and train:", "best.yaml"),  # not a tuned setting
    ],
)
def test_load_config_when_tuned_file_wrong_then_error_names_it(
    tmp_path: Path, tuned: str | None, message: str, where: str
):
    path = _tuned_project(tmp_path, "tuned: best.yaml\n")
    if tuned is not None:
        (tmp_path / "best.yaml").write_text(tuned)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert where in str(info.value.where)


def test_reference_tuned_when_added_then_key_appended_and_the_rest_kept(tmp_path: Path):
    path = _tuned_project(tmp_path)
    before = path.read_text()
    (tmp_path / "datawheel.tuned.yaml").write_text("train: {lr: 0.003}\n")
    reference_tuned(path, "datawheel.tuned.yaml")
    assert path.read_text().startswith(before)  # comments and layout untouched
    assert load_config(path).tuned == "datawheel.tuned.yaml"
    assert load_config(path).train.lr == 0.003


@pytest.mark.parametrize(
    "text",
    [
        "{name: p, data: {source: data.csv, target: y}}",  # flow style: a line cannot be added
        "name: p\ndata: {source: data.csv, target: y}\ntuned: null\n",  # a second key would win
    ],
)
def test_reference_tuned_when_line_cannot_be_appended_then_asks_to_add_it_by_hand(
    tmp_path: Path, text: str
):
    (tmp_path / "data.csv").write_text("x,y\n1,a\n")
    path = tmp_path / "datawheel.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="cannot add the tuned key") as info:
        reference_tuned(path, "datawheel.tuned.yaml")
    assert "tuned: datawheel.tuned.yaml" in str(info.value.hint)
    assert path.read_text() == text


def test_example_project_file_is_valid():
    from datawheel.project.scaffold import example_dir

    config = load_config(example_dir("income") / "datawheel.yaml")
    assert config.data.target == "income"
    assert config.data.id == "person_id"
