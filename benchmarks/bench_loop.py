"""The flywheel under a real distribution shift on the bundled income data, through the library.

The champion is trained where people aged 45+ are rare (all of age < 45 plus 5 % of the rest, as
`datawheel demo` does); customers then send the 45+ group. Feedback with true labels arrives in
growing batches (cumulative 50, 100, 200, 400, 800, 1600 rows): each batch is served by the
current champion and logged in `predictions` / `feedback` exactly as the server does (anonymized
features), then one `run_once` turn runs the policy → retrain → gate → promote. Every model is
scored on the same held-out rows of the shifted group. "Full knowledge" = trained on the training
population + all of the shifted group's training portion (everything but those held-out rows).

    OMP_NUM_THREADS=1 python benchmarks/bench_loop.py [--epochs 30] [--eval-rows 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl
from sqlalchemy import insert

from datawheel.evaluate.assess import assess
from datawheel.io import read_table, write_table
from datawheel.loop.runner import run_once
from datawheel.privacy.anonymize import Anonymizer
from datawheel.project.pipeline import Project
from datawheel.project.scaffold import init_project
from datawheel.registry.candidate import train_candidate
from datawheel.registry.versions import get_version, load_version_model
from datawheel.store.datasets import get_dataset, load_frame
from datawheel.store.db import feedback, now_iso, predictions, tenants

SIZES = (50, 100, 200, 400, 800, 1600)
SHIFT_AT, KEPT = 45, 0.05


def _split(raw: pl.DataFrame, eval_rows: int, seed: int):
    group = raw.filter(pl.col("age") >= SHIFT_AT).sample(fraction=1.0, shuffle=True, seed=seed)
    kept = int(group.height * KEPT)
    training = pl.concat([raw.filter(pl.col("age") < SHIFT_AT), group.head(kept)])
    rest = group.slice(kept)
    return training, rest.head(eval_rows), rest.slice(eval_rows)  # train pop, eval, feedback pool


def _serve(ws, config, frame: pl.DataFrame, anonymizer: Anonymizer, tenant: str) -> None:
    """Predict with the current champion and log predictions + labeled feedback, as serve does."""
    target = config.data.target
    version = get_version(ws, "champion")
    model = load_version_model(ws, version)
    rows = [anonymizer.row({k: v for k, v in r.items() if k != target}) for r in frame.to_dicts()]
    proba = model.predict_proba(rows)
    classes, at = list(model.classes), now_iso()
    preds, notes = [], []
    for row, p, truth in zip(rows, proba, frame[target].to_list(), strict=True):
        pid = uuid.uuid4().hex
        preds.append(
            {
                "id": pid,
                "tenant_id": tenant,
                "model_version": version.id,
                "subject": row.get(config.data.id),
                "features": row,
                "label": classes[int(p.argmax())],
                "probabilities": dict(zip(classes, p.tolist(), strict=True)),
                "latency_ms": 1.0,
                "shadow": False,
                "created_at": at,
                "request_id": pid,
            }
        )
        notes.append(
            {
                "id": uuid.uuid4().hex,
                "prediction_id": pid,
                "tenant_id": tenant,
                "subject": row.get(config.data.id),
                "label": truth,
                "created_at": at,
            }
        )
    with ws.engine.begin() as conn:
        conn.execute(insert(predictions), preds)
        conn.execute(insert(feedback), notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--eval-rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="bench-loop-")) / "income"
    project_file = init_project(directory)
    text = project_file.read_text().replace("epochs: 30", f"epochs: {args.epochs}")
    project_file.write_text(text.replace("min_labeled_feedback: 100", "min_labeled_feedback: 50"))
    raw = read_table(directory / "data" / "adult.csv.gz")
    training, shifted_eval, pool = _split(raw, args.eval_rows, args.seed)
    write_table(training, directory / "data" / "adult.csv.gz")
    print(
        f"training population {training.height} rows ({KEPT:.0%} of age >= {SHIFT_AT} kept); "
        f"shifted group: {shifted_eval.height} held-out rows, {pool.height} for feedback"
    )

    project = Project.load(project_file)
    config = project.config
    ws = project.open_workspace(actor="bench")
    target = config.data.target
    anonymizer = Anonymizer(config.privacy, ws.secret_key(), id_column=config.data.id)
    eval_anon, _ = anonymizer.frame(shifted_eval)

    def acc(model) -> float:
        return assess(model, eval_anon, target=target, sensitive=[]).metrics["accuracy"]

    mark = time.perf_counter()
    project.run(ws=ws)
    v1 = get_version(ws, "v1")
    print(f"champion v1 trained in {time.perf_counter() - mark:.1f} s")
    before = acc(load_version_model(ws, v1))

    base = get_dataset(ws, v1.dataset_id)
    pool_anon, _ = anonymizer.frame(pool)
    full_train = pl.concat([load_frame(ws, base), pool_anon.select(load_frame(ws, base).columns)])
    full = train_candidate(
        ws,
        config,
        train=full_train,
        val=load_frame(ws, base.stats["val"]),
        test=eval_anon,
        dataset_id=base.id,
        kind="bench",
    )
    full_acc = acc(full.model)

    with ws.engine.begin() as conn:
        conn.execute(insert(tenants).values(id="t1", name="acme", plan="pro", created_at=now_iso()))
    rows, sent = [], 0
    for size in SIZES:
        _serve(ws, config, pool.slice(sent, size - sent), anonymizer, "t1")
        sent = size
        report = run_once(ws, config)
        challenger = load_version_model(ws, get_version(ws, report.challenger))
        rows.append(
            {
                "feedback": size,
                "used": report.feedback_rows_used,
                "trigger": report.reason.split(";")[0][:44],
                "acc": acc(challenger),
                "decision": report.decision,
                "seconds": report.seconds,
            }
        )
        print(f"  {size} labeled rows: {rows[-1]['decision']} in {report.seconds:.1f} s")
    ws.close()

    print()
    print(
        f"accuracy on {shifted_eval.height} held-out rows of the shifted group (age >= {SHIFT_AT})"
    )
    print(f"  before (champion v1):           {before:.4f}")
    print(f"  full knowledge:                 {full_acc:.4f}")
    print()
    print(
        "| labeled feedback | used to train | challenger acc | vs full | gate "
        "| trigger→decision s | trigger |"
    )
    print("|---:|---:|---:|---:|---|---:|---|")
    within = None
    for r in rows:
        gap = r["acc"] - full_acc
        if within is None and gap >= -0.01:
            within = r["feedback"]
        print(
            f"| {r['feedback']} | {r['used']} | {r['acc']:.4f} | {gap:+.4f} | {r['decision']} "
            f"| {r['seconds']:.1f} | {r['trigger']} |"
        )
    print()
    print(
        f"within 1 point of full knowledge from {within} labeled rows"
        if within
        else "never within 1 point of full knowledge in this sweep"
    )


if __name__ == "__main__":
    main()
