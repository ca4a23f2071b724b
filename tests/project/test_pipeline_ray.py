"""``data.engine: ray`` in the project file: the pipeline's duplicate clusters and anonymization
run on the session's two-node cluster, and every dataset it saves is the one the local engine
saves (same fingerprints), so a model trained either way sees the same rows and tokens."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from datawheel.project.pipeline import Project
from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace
from ray_tables import people, records

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = """
name: people
data:
  source: people.csv
  target: label
  id: person_id
  text: [message]
  engine: {engine}
  ray_address: {address}
clean:
  dedup: {{exact: true, near: {{fields: [note], threshold: 0.8}}}}
privacy:
  columns: {{name: pseudonymize, email: pseudonymize}}
  text: {{entities: all, operator: pseudonymize}}
"""


def test_prepare_when_engine_ray_then_datasets_equal_the_local_engines(ray_cluster, tmp_path):
    table = records(240).drop("id").head(240)
    frame = pl.concat([people(table.height).drop("age"), table], how="horizontal")
    copies = frame.slice(5, 12).with_columns(pl.format("C{}", "person_id").alias("person_id"))
    frame = pl.concat([frame, copies])  # the same records under other subject ids
    key = SecretKey.generate()
    saved = {}
    for engine in ("local", "ray"):
        folder = tmp_path / engine
        folder.mkdir()
        frame.write_csv(folder / "people.csv")
        text = PROJECT.format(engine=engine, address=ray_cluster.address)
        (folder / "datawheel.yaml").write_text(text)
        project = Project.load(folder / "datawheel.yaml")
        with Workspace.open(folder / ".datawheel", key=key, role="admin") as ws:
            prepared = project.prepare(ws)
        saved[engine] = (
            {kind: record.fingerprint for kind, record in prepared.records.items()},
            prepared.cleaning,
            prepared.anonymized_columns,
            prepared.split,
        )
    assert saved["ray"] == saved["local"]
    cleaning = saved["local"][1]
    assert cleaning["dropped"].get("near_duplicate") and cleaning["dropped"].get("exact_duplicate")
    assert saved["local"][2]["message"] == "text:pseudonymize"


def test_prepare_when_engine_ray_without_ray_then_error_names_the_extra_before_any_dataset(
    tmp_path, monkeypatch
):
    from datawheel.errors import MissingDependencyError
    from datawheel.store.datasets import list_datasets

    people(20).with_columns(pl.lit("yes").alias("label"), pl.lit("x").alias("note")).write_csv(
        tmp_path / "people.csv"
    )
    (tmp_path / "datawheel.yaml").write_text(PROJECT.format(engine="ray", address="127.0.0.1:1"))
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray sees
    project = Project.load(tmp_path / "datawheel.yaml")
    with Workspace.open(tmp_path / ".datawheel", key=SecretKey.generate(), role="admin") as ws:
        with pytest.raises(MissingDependencyError, match=r"pip install 'datawheel\[ray\]'"):
            project.prepare(ws)
        assert list_datasets(ws) == []
