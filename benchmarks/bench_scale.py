"""Near-dup removal at scale: datawheel's local engine, its Ray engine on a local two-node Ray
cluster, and datatrove's MinHash pipeline (its four stages, local executor) as the peer — one
generated corpus, one run.

Each tool runs in its own spawned process (datatrove: one per stage), timed from reading the
corpus to writing the kept documents, imports excluded. Reported: docs/s, peak RSS per process
(VmHWM; for Ray the driver and the largest worker), F1 on document pairs whose true shingle
Jaccard is >= 0.8, scored on a random sample of documents, and the bytes each stage shuffles
or writes between stages. Then the CLI end to end (process start, imports, reading, writing)
against rensa in-process on 20,000 documents.

    OMP_NUM_THREADS=1 python benchmarks/bench_scale.py [--docs 1000000] [--parts 16]
        [--sample 20000] [--cli-docs 20000] [--skip local,ray,datatrove,cli]

The default is the issue's 1,000,000 documents; on a small machine pass --docs 100000.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))  # services: the Ray cluster

import numpy as np
import polars as pl
from bench_dedup import _pairs, _true_jaccard, run_tool
from corpora import make_corpus, vocabulary

THRESHOLD = 0.8


# -- the corpus ---------------------------------------------------------------------------------


def labelled_corpus(n_docs: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``bench_dedup``'s 20,000-document corpus repeated with its words relabelled by a fresh
    permutation per repeat (repeats unrelated to each other), with the generated clusters."""
    base = make_corpus(min(n_docs, 20_000), "en", seed=seed)
    vocab = vocabulary("en")
    rng = np.random.default_rng(seed + 1)
    texts: list[str] = []
    labels: list[np.ndarray] = []
    repeat = 0
    while len(texts) < n_docs:
        relabel = rng.permutation(len(vocab))
        take = base.ids[: n_docs - len(texts)]
        texts += [" ".join(vocab[i] for i in relabel[s].tolist()) for s in take]
        labels.append(base.cluster[: len(take)] + repeat * (int(base.cluster.max()) + 1))
        repeat += 1
    return texts, np.concatenate(labels)


def write_corpus(texts: list[str], workdir: Path, parts: int) -> tuple[Path, Path]:
    """The corpus as one Parquet file (the local engine's input) and as ``parts`` parts."""
    frame = pl.DataFrame({"id": np.arange(len(texts)), "text": texts})
    single = workdir / "corpus.parquet"
    frame.write_parquet(single, row_group_size=20_000)
    folder = workdir / "parts"
    folder.mkdir()
    size = -(-len(texts) // parts)
    for k in range(parts):
        frame.slice(k * size, size).write_parquet(
            folder / f"part-{k:04d}.parquet", row_group_size=20_000
        )
    return single, folder


# -- the tools, each in a spawned process ---------------------------------------------------------


def _peak_rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _labels_from_jsonl(path: Path) -> np.ndarray:
    return pl.read_ndjson(path)["cluster"].to_numpy()


def _local(single: str, workdir: str) -> dict[str, Any]:
    from datawheel.data.dedup_file import dedup_file

    started = time.perf_counter()
    result = dedup_file(
        single,
        f"{workdir}/local-kept.parquet",
        text="text",
        threshold=THRESHOLD,
        clusters=f"{workdir}/local-clusters.jsonl",
    )
    seconds = time.perf_counter() - started
    sketches = result.stats.rows_in * (128 * 4 + 8)  # signatures and exact keys, in memory
    return {"seconds": seconds, "kept": result.stats.kept, "moved": {"sketches (RAM)": sketches}}


def _ray(folder: str, workdir: str, address: str) -> dict[str, Any]:
    """Two runs in one driver: the first pays for starting the cluster's worker processes (as
    every ``datawheel dedup --engine ray`` does), the second finds them running."""
    from datawheel.data.ray_engine import dedup_file_on_ray
    from datawheel.data.ray_io import connect

    connect(address)  # joining the cluster is start-up, like an import
    runs = []
    for run in ("cold", "warm"):
        started = time.perf_counter()
        stats = dedup_file_on_ray(
            folder,
            f"{workdir}/ray-kept-{run}",
            text="text",
            threshold=THRESHOLD,
            address=address,
            clusters=f"{workdir}/ray-clusters.jsonl" if run == "warm" else None,
        )
        runs.append((time.perf_counter() - started, stats))
    (cold, _), (warm, stats) = runs
    return {
        "seconds": warm,
        "cold": cold,
        "kept": stats.kept,
        "moved": stats.shuffle_bytes,
        "stages": stats.stage_seconds,
        "rounds": stats.rounds,
    }


def _datatrove_stage(
    stage: int, folder: str, workdir: str, tasks: int, workers: int
) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    config = MinhashConfig()  # datatrove's defaults: 5-grams, 14 buckets x 8 hashes
    work = Path(workdir) / "datatrove"
    read = ParquetReader(folder, text_key="text", id_key="id", glob_pattern="*.parquet")
    pipelines = {
        1: ([read, MinhashDedupSignature(output_folder=str(work / "sigs"), config=config)], tasks),
        2: (
            [
                MinhashDedupBuckets(
                    input_folder=str(work / "sigs"),
                    output_folder=str(work / "buckets"),
                    config=config,
                )
            ],
            config.num_buckets,
        ),
        3: (
            [
                MinhashDedupCluster(
                    input_folder=str(work / "buckets"),
                    output_folder=str(work / "remove"),
                    config=config,
                    save_cluster_id=True,
                )
            ],
            1,
        ),
        4: (
            [
                read,
                MinhashDedupFilter(input_folder=str(work / "remove")),
                JsonlWriter(str(work / "kept"), compression=None),
            ],
            tasks,
        ),
    }
    steps, ranks = pipelines[stage]
    started = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=steps, tasks=ranks, workers=workers, logging_dir=str(work / f"logs{stage}")
    ).run()
    return {"seconds": time.perf_counter() - started}


def _child(tool: str, args: tuple[Any, ...], out: str) -> None:
    import logging

    logging.disable(logging.INFO)
    if tool == "local":
        import datawheel.data.dedup_file

        result = _local(*args)
    elif tool == "ray":
        import datawheel.data.ray_engine  # noqa: F401

        result = _ray(*args)
    else:
        import datatrove.pipeline.dedup.minhash  # noqa: F401

        result = _datatrove_stage(*args)
    result["rss"] = _peak_rss_mb()
    Path(out).write_text(json.dumps(result))


def spawn(tool: str, args: tuple[Any, ...], workdir: Path) -> dict[str, Any]:
    out = workdir / f"{tool}-{time.monotonic_ns()}.json"
    proc = mp.get_context("spawn").Process(target=_child, args=(tool, args, str(out)))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{tool} failed with exit code {proc.exitcode}")
    return dict(json.loads(out.read_text()))


def run_datatrove(folder: Path, workdir: Path, tasks: int, n: int, workers: int) -> dict[str, Any]:
    stages = [
        spawn("datatrove", (k, str(folder), str(workdir), tasks, workers), workdir)
        for k in (1, 2, 3, 4)
    ]
    work = workdir / "datatrove"
    moved = {
        "signatures": _bytes(work / "sigs"),
        "buckets (pairs)": _bytes(work / "buckets"),
        "remove ids": _bytes(work / "remove"),
    }
    return {
        "seconds": sum(s["seconds"] for s in stages),
        "rss": max(s["rss"] for s in stages),
        "stage_rss": [round(s["rss"]) for s in stages],
        "stages": {f"stage {k}": s["seconds"] for k, s in zip((1, 2, 3, 4), stages, strict=True)},
        "moved": moved,
        "labels": _datatrove_labels(work / "remove", folder, n),
    }


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _datatrove_labels(remove: Path, folder: Path, n: int) -> np.ndarray:
    """Per input row, its datatrove cluster (rank = part in name order, doc = row in part)."""
    sizes = [
        pl.scan_parquet(p).select(pl.len()).collect().item()
        for p in sorted(folder.glob("*.parquet"))
    ]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    labels = np.arange(n, dtype=np.int64)
    for path in sorted(remove.glob("*.clusters")):
        rank = int(path.name.split(".")[0])
        pairs = np.array(struct.unpack(f"<{path.stat().st_size // 4}I", path.read_bytes()))
        docs, clusters = pairs[0::2], pairs[1::2]
        labels[offsets[rank] + docs] = n + clusters  # cluster ids apart from row ids
    return labels


# -- scoring ----------------------------------------------------------------------------------


def f1_on_sample(
    texts: list[str], truth: np.ndarray, predicted: np.ndarray, sample: np.ndarray
) -> dict[str, float]:
    """Pairwise precision and recall against pairs of true Jaccard >= 0.8 among ``sample``."""
    sub = [texts[i] for i in sample.tolist()]
    true_pairs, pred_pairs = _pairs(truth[sample]), _pairs(predicted[sample])
    both = np.union1d(true_pairs, pred_pairs)
    similar = both[_true_jaccard(sub, both) >= THRESHOLD]
    hit = np.intersect1d(pred_pairs, similar).size
    precision = hit / max(pred_pairs.size, 1)
    recall = hit / max(similar.size, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "F1": f1, "pairs": int(similar.size)}


def _sample(truth: np.ndarray, size: int, seed: int = 7) -> np.ndarray:
    """Whole generated clusters, drawn at random until ``size`` documents: pairs stay in."""
    rng = np.random.default_rng(seed)
    clusters = rng.permutation(np.unique(truth))
    order = np.argsort(truth, kind="stable")
    starts = np.searchsorted(truth[order], clusters)
    ends = np.searchsorted(truth[order], clusters, side="right")
    picked: list[np.ndarray] = []
    total = 0
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        picked.append(order[s:e])
        total += e - s
        if total >= size:
            break
    return np.sort(np.concatenate(picked))


# -- the CLI end to end against rensa -----------------------------------------------------------


def cli_vs_rensa(n_docs: int, workdir: Path) -> None:
    corpus = make_corpus(n_docs, "en", seed=0)
    path = workdir / "cli.jsonl"
    pl.DataFrame({"text": corpus.texts}).write_ndjson(path)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "datawheel", "dedup", str(path), "-o",
             str(workdir / "cli-out.jsonl"), "--text-field", "text"],
            check=True, capture_output=True,
        )  # fmt: skip
        runs.append(time.perf_counter() - started)
        (workdir / "cli-out.jsonl").unlink()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "datawheel", "dedup", "--help"], check=True, capture_output=True
    )
    start_up = time.perf_counter() - started
    cli = min(runs)
    _, rensa, _ = run_tool("rensa", str(path), "en", str(workdir))
    _, inproc, _ = run_tool("datawheel", str(path), "en", str(workdir))
    print(f"\n== CLI end to end, {n_docs:,} docs (best of 3) ==")
    print(f"datawheel dedup (process start to exit)  {cli:6.2f} s  {n_docs / cli:8.0f} docs/s")
    print(f"  of which start-up (dedup --help)        {start_up:6.2f} s")
    print(
        f"datawheel in-process (read to clusters)  {inproc:6.2f} s  {n_docs / inproc:8.0f} docs/s"
    )
    print(f"rensa in-process (read to clusters)      {rensa:6.2f} s  {n_docs / rensa:8.0f} docs/s")
    print(f"CLI / rensa in-process = {rensa / cli:.2f}x the rate")


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=16)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--cli-docs", type=int, default=20_000)
    parser.add_argument("--datatrove-workers", type=int, default=1)
    parser.add_argument("--skip", default="", help="comma-separated: local,ray,datatrove,cli")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as name:
        workdir = Path(name)
        started = time.perf_counter()
        texts, truth = labelled_corpus(args.docs)
        single, folder = write_corpus(texts, workdir, args.parts)
        size = _bytes(folder) / 2**20
        print(
            f"corpus: {args.docs:,} docs, {args.parts} Parquet parts ({size:.0f} MB), "
            f"generated in {time.perf_counter() - started:.0f} s; threshold {THRESHOLD}"
        )
        sample = _sample(truth, args.sample)
        results: dict[str, dict[str, Any]] = {}
        if "local" not in skip:
            results["local"] = spawn("local", (str(single), str(workdir)), workdir)
            results["local"]["labels"] = _labels_from_jsonl(workdir / "local-clusters.jsonl")
        if "ray" not in skip:
            results["ray"] = _run_ray(folder, workdir)
        if "datatrove" not in skip:
            results["datatrove"] = run_datatrove(
                folder, workdir, args.parts, args.docs, args.datatrove_workers
            )
        _report(results, texts, truth, sample, args.docs, args.datatrove_workers)
        if "cli" not in skip:
            cli_vs_rensa(args.cli_docs, workdir)


def _run_ray(folder: Path, workdir: Path) -> dict[str, Any]:
    from services import cluster_processes, local_ray_cluster

    with local_ray_cluster(workdir, nodes=2, cpus=1) as cluster:
        result = spawn("ray", (str(folder), str(workdir), cluster.address), workdir)
        workers = [_peak_rss_mb(pid) for pid in cluster_processes(cluster.marker)]
    result["worker_rss"] = max(w for w in workers if w == w)
    result["labels"] = _labels_from_jsonl(workdir / "ray-clusters.jsonl")
    return result


def _report(
    results: dict[str, dict[str, Any]],
    texts: list[str],
    truth: np.ndarray,
    sample: np.ndarray,
    n: int,
    datatrove_workers: int,
) -> None:
    head = f"{'tool':<12}{'CPUs':>5}{'seconds':>9}{'docs/s':>9}{'RSS MB':>15}"
    print(f"\n{head}{'prec':>7}{'recall':>7}{'F1':>7}")
    cpus = {"local": 1, "ray": 2, "datatrove": datatrove_workers}
    scores = {}
    for tool, r in results.items():
        m = scores[tool] = f1_on_sample(texts, truth, r["labels"], sample)
        rss = f"{r['rss']:.0f}"
        if tool == "ray":
            rss = f"{r['rss']:.0f}+{r['worker_rss']:.0f}w"
        print(
            f"{tool:<12}{cpus[tool]:>5}{r['seconds']:>9.1f}{n / r['seconds']:>9.0f}{rss:>15}"
            f"{m['precision']:>7.3f}{m['recall']:>7.3f}{m['F1']:>7.3f}"
        )
    if scores:
        pairs = next(iter(scores.values()))["pairs"]
        print(f"sample: {len(sample):,} docs, {pairs} pairs with true J >= {THRESHOLD}")
    for tool, r in results.items():
        moved = ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in r.get("moved", {}).items())
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r.get("stages", {}).items())
        print(f"{tool}: moved between stages: {moved or '-'}")
        if stages:
            print(f"{tool}: stages: {stages}")
        if "stage_rss" in r:
            print(f"{tool}: peak RSS per stage process (MB): {r['stage_rss']}")
    seconds = {tool: r["seconds"] for tool, r in results.items()}
    if "local" in seconds and "datatrove" in seconds:
        print(f"local / datatrove = {seconds['datatrove'] / seconds['local']:.2f}x the rate")
    if "local" in seconds and "ray" in seconds:
        cold = results["ray"]["cold"]
        print(
            f"ray wall / local wall = {seconds['ray'] / seconds['local']:.2f}x warm, "
            f"{cold / seconds['local']:.2f}x cold (the first run of a driver: {cold:.1f} s)"
        )


if __name__ == "__main__":
    main()
