"""The project file: valid files load; broken ones name the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.config import load_config, parse_config
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


def test_load_config_when_tuned_overlay_present_then_merged(tmp_path: Path):
    (tmp_path / "data.csv").write_text("x,y\n1,a\n")
    path = tmp_path / "datawheel.yaml"
    path.write_text("name: p\ndata: {source: data.csv, target: y}\ntrain: {epochs: 7, lr: 0.01}\n")
    (tmp_path / "datawheel.tuned.yaml").write_text("train: {lr: 0.003}\n")
    config = load_config(path)
    assert config.train.lr == 0.003
    assert config.train.epochs == 7


def test_example_project_file_is_valid():
    from datawheel.project.scaffold import example_dir

    config = load_config(example_dir("income") / "datawheel.yaml")
    assert config.data.target == "income"
    assert config.data.id == "person_id"
