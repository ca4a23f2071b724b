"""``datawheel init DIR --from FILE --target COL``: a project for one's own table that runs
first time, with PII rules proposed, leaks kept out, and the task inferred."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from faker import Faker
from typer.testing import CliRunner

from datawheel.cli.main import app
from datawheel.errors import DataError
from datawheel.project.scaffold_from import init_from_file


def customers(path: Path, n: int = 600, seed: int = 3) -> Path:
    """A churn table with PII (names, emails, phones), a yes/no column *named* like an email,
    a constant, a leaked copy of the target, free text and ordinary features."""
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(0.06 * tenure - 1)), "yes", "no")
    pl.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "full_name": [fake.name() for _ in range(n)],
        "email": [fake.email() for _ in range(n)],
        "newsletter_email": rng.choice(["yes", "no"], n),
        "phone": [fake.phone_number() for _ in range(n)],
        "tenure": tenure,
        "plan": plan,
        "monthly_charges": rng.normal(60, 20, n).round(2),
        "country": ["US"] * n,
        "note": [fake.sentence(nb_words=12) for _ in range(n)],
        "churn_flag": (churned == "yes").astype(int),
        "churned": churned,
    }).write_csv(path)  # fmt: skip
    return path


def test_init_from_when_customer_table_then_roles_rules_and_task(tmp_path: Path) -> None:
    source = customers(tmp_path / "customers.csv")
    project_file, summary = init_from_file(
        tmp_path / "churn", source, target="churned", id_column="customer_id"
    )
    config = yaml.safe_load(project_file.read_text())
    assert config["data"]["task"] == "binary"
    assert config["data"]["id"] == "customer_id"
    rules = config["privacy"]["columns"]
    assert {"full_name", "email", "phone"} <= set(rules)
    assert "newsletter_email" not in rules  # yes/no answers, not addresses
    assert "churn_flag" in config["data"]["ignore"]  # a copy of the target
    assert "country" in config["data"]["ignore"]  # a constant
    assert config["data"]["text"] == ["note"]
    assert summary["leaks"] and "churn_flag" in summary["leaks"]
    assert (tmp_path / "churn" / "datawheel.key").is_file()
    text = project_file.read_text()
    assert "income" not in text.lower() and "census" not in text.lower()  # no example text


@pytest.mark.slow
def test_init_from_then_run_when_cli_then_first_run_succeeds(tmp_path: Path) -> None:
    source = customers(tmp_path / "customers.csv")
    runner = CliRunner()
    created = runner.invoke(app, ["init", str(tmp_path / "churn"), "--from", str(source),
                                  "--target", "churned", "--id", "customer_id"])  # fmt: skip
    assert created.exit_code == 0, created.output
    project = tmp_path / "churn" / "datawheel.yaml"
    text = project.read_text().replace("epochs: 30", "epochs: 3")
    project.write_text(text)
    ran = runner.invoke(app, ["run", "-c", str(project), "--json"])
    assert ran.exit_code == 0, ran.output
    assert '"task": "binary"' in ran.output and '"stage": "champion"' in ran.output


def test_init_from_when_numeric_target_then_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "houses.csv"
    area = rng.normal(80, 20, 300)
    pl.DataFrame({"area": area, "price": area * 3000 + rng.normal(0, 9000, 300),
                  "price_copy": area * 3000.5}).write_csv(path)  # fmt: skip
    _project_file, summary = init_from_file(tmp_path / "p", path, target="price")
    assert summary["task"] == "regression"
    assert "price_copy" in summary["leaks"]  # correlated ~1 with the target


def test_init_from_when_target_misspelled_then_error_names_close_column(tmp_path: Path) -> None:
    source = customers(tmp_path / "customers.csv", n=50)
    with pytest.raises(DataError, match="churned"):
        init_from_file(tmp_path / "p", source, target="churn")


def test_init_from_when_columns_hold_photos_and_clips_then_named_images_and_audio(
    tmp_path: Path,
):
    import base64

    from data.media.samples import clip, encode, picture, tone

    (tmp_path / "photos").mkdir()
    rows = 30
    for i in range(rows):
        (tmp_path / "photos" / f"{i}.jpg").write_bytes(encode(picture(i), "JPEG"))
    voice = base64.b64encode(clip(tone(0.2, 8_000), 8_000)).decode()
    pl.DataFrame({
        "photo": [f"photos/{i}.jpg" for i in range(rows)],
        "voice": [voice] * rows,
        "city": ["Paris", "Lyon", "Nice"] * 10,
        "x": np.arange(rows, dtype=float),
        "y": ["a", "b"] * 15,
    }).write_csv(tmp_path / "data.csv")  # fmt: skip
    path, summary = init_from_file(tmp_path / "p", tmp_path / "data.csv", target="y")
    config = yaml.safe_load(path.read_text())
    assert config["data"]["images"] == ["photo"] and config["data"]["audio"] == ["voice"]
    assert summary["media"] == {"photo": "image", "voice": "audio"}
    assert "photo" not in summary["roles"] and summary["roles"]["city"] == "categorical"
