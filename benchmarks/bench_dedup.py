"""Near-duplicate detection: datawheel vs datasketch vs rensa on one corpus, in one run.

Each tool runs in its own spawned process, one after the other, timed end to end from reading the
JSONL file to clusters (imports excluded); peak RSS is the child's VmHWM. Quality is scored on
document pairs: against the generated clusters (precision, recall) and on pairs whose true shingle
Jaccard is >= the threshold (recall@J, and F1@J with precision@J = share of predicted pairs with
true Jaccard >= threshold). All tools see the same shingles: word 5-grams of \\w+ tokens of the
NFKC-casefolded text (en), character 5-grams of letters / digits (zh).

    OMP_NUM_THREADS=1 python benchmarks/bench_dedup.py [--docs 20000] [--lang en|zh|both]
    OMP_NUM_THREADS=1 python benchmarks/bench_dedup.py --scale [--docs 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import polars as pl
from corpora import make_corpus, scale_corpus

THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_NON_CHAR = re.compile(r"[\W_]+")


def _python_shingles(texts: list[str], lang: str) -> list[set[str]]:
    """The peers' shingling: the same tokens and n-grams as datawheel's, in plain Python."""
    out = []
    for t in texts:
        t = unicodedata.normalize("NFKC", t or "").casefold()
        if lang == "zh":  # letters and digits (Faker zh text has no marks): \w minus "_"
            toks = _NON_CHAR.sub("", t)
            grams = [toks[k : k + NGRAM] for k in range(max(1, len(toks) - NGRAM + 1))]
        else:
            toks = re.findall(r"\w+", t)
            grams = [" ".join(toks[k : k + NGRAM]) for k in range(max(1, len(toks) - NGRAM + 1))]
        out.append(set(grams))
    return out


def _clusters_from_pairs(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    from datawheel.data.dedup import _components

    return _components(n, np.asarray(pairs, dtype=np.int64).reshape(-1, 2))


def _run_datawheel(path: str, lang: str) -> np.ndarray:
    from datawheel.data.dedup import dedup

    frame = pl.read_ndjson(path)
    _, clusters = dedup(frame, text="text", threshold=THRESHOLD, num_perm=NUM_PERM)
    return np.asarray(clusters)


def _run_datasketch(path: str, lang: str) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    texts = pl.read_ndjson(path)["text"].to_list()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    sketches = []
    for i, shingles in enumerate(_python_shingles(texts, lang)):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([s.encode("utf-8") for s in shingles])
        lsh.insert(i, m)
        sketches.append(m)
    pairs = [(i, j) for i, m in enumerate(sketches) for j in lsh.query(m) if j != i]
    return _clusters_from_pairs(len(texts), pairs)


def _run_rensa(path: str, lang: str) -> np.ndarray:
    from rensa import RMinHash, RMinHashLSH

    texts = pl.read_ndjson(path)["text"].to_list()
    sketches = RMinHash.from_token_sets(_python_shingles(texts, lang), num_perm=NUM_PERM, seed=1)
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=8)
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    pairs = [(i, j) for i, m in enumerate(sketches) for j in lsh.query(m) if j != i]
    return _clusters_from_pairs(len(texts), pairs)


TOOLS = {"datawheel": _run_datawheel, "datasketch": _run_datasketch, "rensa": _run_rensa}


def _child(tool: str, path: str, lang: str, out: str) -> None:
    if tool == "datasketch":
        import datasketch  # noqa: F401
    elif tool == "rensa":
        import rensa  # noqa: F401
    else:
        import datawheel.data.dedup  # noqa: F401
    started = time.perf_counter()
    clusters = TOOLS[tool](path, lang)
    seconds = time.perf_counter() - started
    np.savez(out, clusters=clusters, seconds=seconds, rss=_peak_rss_mb())


def run_tool(tool: str, path: str, lang: str, workdir: str) -> tuple[np.ndarray, float, float]:
    """Run one tool in a fresh spawned process; (clusters, seconds, peak RSS MB)."""
    out = os.path.join(workdir, f"{tool}.npz")
    proc = mp.get_context("spawn").Process(target=_child, args=(tool, path, lang, out))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{tool} failed with exit code {proc.exitcode}")
    res = np.load(out)
    return res["clusters"], float(res["seconds"]), float(res["rss"])


def _pairs(labels: np.ndarray) -> np.ndarray:
    """All pairs (i < j) with the same label, as int64 keys i * n + j."""
    n = len(labels)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    keys = []
    for d in range(1, n):
        same = sorted_labels[d:] == sorted_labels[:-d]
        if not same.any():
            break
        a, b = order[:-d][same], order[d:][same]
        keys.append(np.minimum(a, b) * n + np.maximum(a, b))
    return np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)


def _true_jaccard(texts: list[str], keys: np.ndarray) -> np.ndarray:
    from datawheel.data._lsh import exact_jaccard
    from datawheel.data.dedup import shingle_hashes

    n = len(texts)
    hashes, offsets = shingle_hashes(texts)
    return exact_jaccard(hashes, offsets, np.stack([keys // n, keys % n], axis=1))


def score(texts: list[str], truth: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Pairwise precision / recall against generated clusters and at true Jaccard >= threshold."""
    true_pairs, pred_pairs = _pairs(truth), _pairs(clusters)
    both = np.union1d(true_pairs, pred_pairs)
    similar = both[_true_jaccard(texts, both) >= THRESHOLD]
    hit = np.intersect1d(pred_pairs, true_pairs).size
    hit_j = np.intersect1d(pred_pairs, similar).size
    p = hit / max(pred_pairs.size, 1)
    r = hit / max(true_pairs.size, 1)
    p_j = hit_j / max(pred_pairs.size, 1)
    r_j = hit_j / max(similar.size, 1)
    return {
        "precision": p,
        "recall": r,
        "recall@J": r_j,
        "F1@J": 2 * p_j * r_j / max(p_j + r_j, 1e-12),
        "F1": 2 * p * r / max(p + r, 1e-12),
        "pairs@J": similar.size,
    }


def bench(n_docs: int, lang: str, workdir: str) -> None:
    corpus = make_corpus(n_docs, lang, seed=0)
    path = os.path.join(workdir, f"corpus_{lang}.jsonl")
    pl.DataFrame({"text": corpus.texts}).write_ndjson(path)
    size = os.path.getsize(path) / 2**20
    print(f"\n== {lang}: {n_docs} docs, {size:.1f} MB JSONL, threshold {THRESHOLD} ==")
    header = f"{'tool':<11}{'docs/s':>9}{'RSS MB':>8}{'prec':>7}{'recall':>7}"
    print(header + f"{'rec@J':>7}{'F1@J':>7}{'F1':>7}")
    speed = {}
    for tool in TOOLS:
        clusters, seconds, rss = run_tool(tool, path, lang, workdir)
        m = score(corpus.texts, corpus.cluster, clusters)
        speed[tool] = n_docs / seconds
        print(
            f"{tool:<11}{speed[tool]:>9.0f}{rss:>8.0f}{m['precision']:>7.3f}{m['recall']:>7.3f}"
            f"{m['recall@J']:>7.3f}{m['F1@J']:>7.3f}{m['F1']:>7.3f}"
        )
    print(f"pairs with true J >= {THRESHOLD}: {m['pairs@J']}")
    print(
        f"datawheel / rensa = {speed['datawheel'] / speed['rensa']:.2f}x, "
        f"datawheel / datasketch = {speed['datawheel'] / speed['datasketch']:.2f}x"
    )


def bench_scale(n_docs: int, workdir: str) -> None:
    started = time.perf_counter()
    path = os.path.join(workdir, "scale.jsonl")
    pl.DataFrame({"text": scale_corpus(n_docs, "en")}).write_ndjson(path)
    size = os.path.getsize(path) / 2**30
    print(f"generated {n_docs} docs ({size:.2f} GB) in {time.perf_counter() - started:.0f} s")
    clusters, seconds, rss = run_tool("datawheel", path, "en", workdir)
    kept = int((clusters == np.arange(len(clusters))).sum())
    print(
        f"datawheel: {n_docs} docs in {seconds:.1f} s ({n_docs / seconds:.0f} docs/s), "
        f"peak RSS {rss:.0f} MB, kept {kept}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=None)
    parser.add_argument("--lang", choices=["en", "zh", "both"], default="both")
    parser.add_argument("--scale", action="store_true", help="datawheel alone on 1,000,000 docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if args.scale:
            bench_scale(args.docs or 1_000_000, workdir)
            return
        for lang in ("en", "zh") if args.lang == "both" else (args.lang,):
            bench(args.docs or 20_000, lang, workdir)


if __name__ == "__main__":
    main()
