"""`datawheel evaluate --report` on a 3,000-row Chinese table, end to end, and its costly part
(the card's exact SHAP importance) against shap's ExactExplainer.

The table: 3,000 rows of the bundled 1994 census (public) with Chinese headers and values,
plus Faker zh_CN names, phone and ID-card numbers and review texts, saved as GBK the way Excel
saves it in China; the project trains on it first (not timed). Then:

- end to end: ``datawheel evaluate --report card.html`` as a subprocess, wall and CPU seconds
  (median of ``--repeats``; CPU is the steadier figure on a shared machine);
- the card's importance — mean |SHAP| of 200 held-out rows against the model's 100-row
  background, exact over every coalition — three ways on the same rows: datawheel with the
  network split at its first layer (what the card uses), datawheel calling the whole network
  on every composed row (what it did before), and shap's ExactExplainer (the peer) on
  ``--peer-rows`` rows, where each input column (the hashed text block included) is one player.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_evaluate.py [--rows 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import polars as pl

CENSUS = Path(__file__).resolve().parents[1] / "src/datawheel/examples/income/data/adult.csv.gz"
PROJECT = """\
name: 客户收入
data:
  source: data/客户.csv
  target: 是否高收入
  id: 客户编号
  text: [评价内容]
  sensitive: [性别]
privacy:
  columns: {客户姓名: pseudonymize, 手机号: {mask: 4}, 身份证号: encrypt}
model: {kind: mlp}  # the importance comparison needs the network (auto may choose a linear model)
train: {epochs: 10}
"""


def chinese_table(rows: int) -> pl.DataFrame:
    from faker import Faker

    from datawheel.io import read_table

    census = read_table(CENSUS).head(rows)
    fake = Faker("zh_CN")
    fake.seed_instance(0)
    rng = random.Random(0)
    return pl.DataFrame(
        {
            "客户编号": [f"C{i:06d}" for i in range(rows)],
            "客户姓名": [fake.name() for _ in range(rows)],
            "手机号": [fake.phone_number() for _ in range(rows)],
            "身份证号": [fake.ssn() for _ in range(rows)],
            "年龄": census["age"],
            "学历": census["education"],
            "职业": census["occupation"],
            "每周工时": census["hours_per_week"],
            "性别": census["sex"].replace_strict({"Male": "男", "Female": "女"}),
            "评价内容": [fake.sentence(nb_words=rng.randint(4, 12)) for _ in range(rows)],
            "是否高收入": census["income"].replace_strict({">50K": "是", "<=50K": "否"}),
        }
    )


def datawheel(*args: str, cwd: Path) -> tuple[float, float]:
    """Run the CLI as a user would; (wall, CPU) seconds of the child."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)  # the child runs in `cwd`
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(Path(p).resolve()) for p in paths if p)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "datawheel", *args], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    if done.returncode:
        sys.exit(f"datawheel {' '.join(args)} failed: {done.stderr.strip()}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def importance_three_ways(root: Path, peer_rows: int) -> None:
    import shap

    from datawheel.evaluate.explain import _cached, explain_arrays
    from datawheel.evaluate.shapley import exact_shapley
    from datawheel.project.pipeline import Project
    from datawheel.registry.versions import get_version, load_version_model
    from datawheel.store.datasets import load_frame

    project = Project.load(root / "datawheel.yaml")
    ws = project.open_workspace()
    version = get_version(ws, "champion")
    model = load_version_model(ws, version)
    frame = load_frame(ws, version.eval_dataset_id)
    ws.close()
    pick = np.sort(np.random.default_rng(0).choice(frame.height, size=200, replace=False))
    num, cat = model.transform(frame[pick])
    players, bg = _cached(model, None, 0)
    proba = model.predict_proba_arrays(num, cat)
    label, output = proba.argmax(1), proba.max(1)
    print(f"\nimportance: 200 rows x 2^{players.size} coalitions x {len(bg)} background rows; "
          f"players {players.names}, {num.shape[1]} numeric positions")  # fmt: skip

    explain_arrays(model, num[:2], cat[:2])  # warm-up: background terms cached
    started = time.perf_counter()
    split = explain_arrays(model, num, cat, method="exact").values
    t_split = time.perf_counter() - started
    started = time.perf_counter()
    called = exact_shapley(model.predict_proba_arrays, players, num, cat, bg, label, output,
                           batch_rows=65_536)  # fmt: skip
    t_called = time.perf_counter() - started
    print(f"  datawheel, network split at the first layer : {t_split:7.2f} s")
    print(f"  datawheel, whole network per composed row   : {t_called:7.2f} s"
          f"  (max |diff| {np.abs(split - called).max():.1e})")  # fmt: skip

    # shap sees one feature per player, valued by the id of the row the player is taken from
    # (0..B-1 background, B.. explained rows): a masked player takes a background row's whole
    # block — its value and missing indicator, or the text's thousand positions — as ours does
    n, b = peer_rows, len(bg)
    positive = model.classes[1]
    all_num, all_cat = np.vstack([bg.numeric, num[:n]]), np.vstack([bg.categorical, cat[:n]])
    num_cols = [np.flatnonzero(players.numeric_owner == p) for p in range(players.size)]
    cat_cols = [np.flatnonzero(players.categorical_owner == p) for p in range(players.size)]

    def f(z: np.ndarray) -> np.ndarray:
        ids = z.astype(np.int64)  # [R, M]
        numeric = np.empty((len(z), all_num.shape[1]), np.float32)
        categorical = np.empty((len(z), all_cat.shape[1]), np.int64)
        for p in range(players.size):
            numeric[:, num_cols[p]] = all_num[ids[:, p]][:, num_cols[p]]
            categorical[:, cat_cols[p]] = all_cat[ids[:, p]][:, cat_cols[p]]
        return model.predict_proba_arrays(numeric, categorical)[:, 1]

    x = np.repeat((b + np.arange(n))[:, None], players.size, axis=1).astype(float)
    background = np.repeat(np.arange(b)[:, None], players.size, axis=1).astype(float)
    ours = explain_arrays(model, num[:n], cat[:n], method="exact", label=positive).values
    started = time.perf_counter()
    theirs = shap.explainers.Exact(f, background)(x, max_evals=1 << 20, silent=True).values
    t_shap = (time.perf_counter() - started) * 200 / n
    gap = np.abs(theirs - ours).max()
    print(f"  shap ExactExplainer (peer), {n} rows, x{200 / n:.0f}   : {t_shap:7.2f} s"
          f"  (max |diff| vs datawheel {gap:.1e}, probability of {positive!r})")  # fmt: skip
    print(f"  ratio: shap / datawheel split = {t_shap / t_split:.0f}x; "
          f"whole network / split = {t_called / t_split:.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-rows", type=int, default=5, help="rows shap explains")
    args = parser.parse_args()
    from datawheel.secret import generate_key_file

    with tempfile.TemporaryDirectory(prefix="dw-bench-eval-") as tmp:
        root = Path(tmp) / "客户项目"
        (root / "data").mkdir(parents=True)
        csv = chinese_table(args.rows).write_csv()
        (root / "data" / "客户.csv").write_bytes(csv.encode("gbk"))
        (root / "datawheel.yaml").write_text(PROJECT, encoding="utf-8")
        generate_key_file(root / "datawheel.key")
        wall, _ = datawheel("run", cwd=root)
        print(f"{args.rows:,} rows, GBK, Chinese headers; datawheel run (setup) {wall:.1f} s")
        runs = [datawheel("evaluate", "--report", "card.html", cwd=root)
                for _ in range(args.repeats)]  # fmt: skip
        walls, cpus = zip(*runs, strict=True)
        print(f"datawheel evaluate --report: wall {statistics.median(walls):.2f} s, "
              f"CPU {statistics.median(cpus):.2f} s (median of {args.repeats}; "
              f"walls {', '.join(f'{w:.2f}' for w in walls)})")  # fmt: skip
        importance_three_ways(root, args.peer_rows)


if __name__ == "__main__":
    main()
