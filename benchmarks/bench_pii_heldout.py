"""PII recall and precision on the held-out corpus (pii_heldout.py), per type and language.

Usage: python benchmarks/bench_pii_heldout.py [--n 1000] [--seed dev|heldout] [--show-misses 20]

Scores strictly (same type, same offsets) and leniently (same type, overlapping), counts false
positives per 100 clean documents, and times ``datawheel.scan_pii`` end to end on the corpus.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_heldout import DEV_SEED, HELDOUT_SEED, TYPES, Doc, generate


def _match(gold: list[dict], pred: list[dict], strict: bool) -> tuple[int, list[dict], list[dict]]:
    """True positives, unmatched gold (misses) and unmatched predictions (false alarms)."""
    used: set[int] = set()
    tp, misses = 0, []
    for g in gold:
        hit = None
        for j, p in enumerate(pred):
            if j in used or p["type"] != g["type"]:
                continue
            same = p["start"] == g["start"] and p["end"] == g["end"]
            overlap = p["start"] < g["end"] and g["start"] < p["end"]
            if same or (not strict and overlap):
                hit = j
                break
        if hit is None:
            misses.append(g)
        else:
            used.add(hit)
            tp += 1
    return tp, misses, [p for j, p in enumerate(pred) if j not in used]


def score(docs: list[Doc], preds: list[list[dict]], strict: bool) -> dict[tuple[str, str], dict]:
    table: dict[tuple[str, str], dict] = defaultdict(lambda: {"tp": 0, "fn": 0, "fp": 0})
    for doc, pred in zip(docs, preds, strict=True):
        pred = [p for p in pred if p["type"] in TYPES]
        _, misses, extra = _match(doc.spans, pred, strict)
        for g in doc.spans:
            table[(doc.lang, g["type"])]  # make the row exist
        for g in misses:
            table[(doc.lang, g["type"])]["fn"] += 1
        for p in extra:
            table[(doc.lang, p["type"])]["fp"] += 1
        hits = [g for g in doc.spans if g not in misses]
        for g in hits:
            table[(doc.lang, g["type"])]["tp"] += 1
    return table


def f1(row: dict) -> tuple[float, float, float]:
    p = row["tp"] / (row["tp"] + row["fp"]) if row["tp"] + row["fp"] else 1.0
    r = row["tp"] / (row["tp"] + row["fn"]) if row["tp"] + row["fn"] else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="documents per language")
    ap.add_argument("--seed", choices=["dev", "heldout"], default="heldout")
    ap.add_argument("--show-misses", type=int, default=0, help="print N misses and false alarms")
    args = ap.parse_args()
    docs = generate(args.n, seed=DEV_SEED if args.seed == "dev" else HELDOUT_SEED)

    import datawheel as dw

    texts = [d.text for d in docs]
    dw.scan_pii(texts[:5], lang="auto")  # warm the recognizers' tables
    start = time.perf_counter()
    found = dw.scan_pii(texts, lang="auto")
    elapsed = time.perf_counter() - start
    preds = [[{"start": s.start, "end": s.end, "type": s.type} for s in spans] for spans in found]

    print(f"held-out PII corpus ({args.seed} seed), {args.n} documents per language")
    print(f"datawheel.scan_pii: {len(texts) / elapsed:,.0f} docs/s ({elapsed:.2f} s)\n")
    strict, lenient = score(docs, preds, True), score(docs, preds, False)
    head = ("lang", "type", "n", "FP", "P", "R", "F1", "F1 overlap")
    print("{:4} {:15} {:>5} {:>4} {:>6} {:>6} {:>6}   {:>10}".format(*head))
    for key in sorted(strict):
        p, r, f = f1(strict[key])
        n = strict[key]["tp"] + strict[key]["fn"]
        loose = f1(lenient[key])[2]
        fp = strict[key]["fp"]
        print(f"{key[0]:4} {key[1]:15} {n:5d} {fp:4d} {p:6.3f} {r:6.3f} {f:6.3f}   {loose:10.3f}")
    for lang in ("en", "zh"):
        clean = [
            (d, p)
            for d, p in zip(docs, preds, strict=True)
            if d.lang == lang and d.genre == "clean"
        ]
        if clean:
            alarms = sum(len([s for s in p if s["type"] in TYPES]) for _, p in clean)
            print(
                f"{lang}: {100 * alarms / len(clean):.1f} false positives per 100 clean documents "
                f"({len(clean)} clean)"
            )
    if args.show_misses:
        shown = 0
        for doc, pred in zip(docs, preds, strict=True):
            _, misses, extra = _match(doc.spans, [p for p in pred if p["type"] in TYPES], True)
            for m in misses:
                print(f"MISS  {m['type']:12} {doc.text[m['start'] : m['end']]!r}")
            for e in extra:
                print(f"EXTRA {e['type']:12} {doc.text[e['start'] : e['end']]!r}")
            shown += len(misses) + len(extra)
            if shown >= args.show_misses:
                break


if __name__ == "__main__":
    main()
