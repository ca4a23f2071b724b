"""PII detection: datawheel `scan_pii` against Presidio's AnalyzerEngine on one seeded corpus.

    OMP_NUM_THREADS=1 python benchmarks/bench_pii.py [--docs 2000] [--seed 0] [--skip-peer]
    OMP_NUM_THREADS=1 python benchmarks/bench_pii.py --corpus independent|records --split heldout

Three corpora: ``builtin`` (`pii_corpus.py`, written alongside the recognizers),
``independent`` (`pii_corpus_independent.py`: tickets, logs, e-mails, chat exports and reviews,
written apart from the recognizers, with a held-out split of unseen phrasings and seeds) and
``records`` (`pii_corpus_records.py`: JSON/key=value logs, CSV rows, forms, git trailers,
calendar invites, notifications and call transcripts, written before reading the recognizers,
split the same way). On the independent and records corpora only their ten annotated types are
scored, false positives on clean texts are
counted per 100 texts, and Chinese PERSON is also compared with jieba's part-of-speech tagger
(words tagged ``nr``), a segmenter-based peer.

Presidio runs offline with a blank spaCy pipeline (see /work/shared/PEERS.md): its pattern
recognizers all run, but PERSON and LOCATION need an NER model that cannot be downloaded here, so
they find nothing; it has no mainland-China resident id recognizer. Every document goes to
Presidio with ``language="en"``. Timing alternates the two on chunks of 100 documents, so both
see the same load on a shared machine. Both outputs pass through the same overlap resolution (higher
score, then longer) before scoring. Exact match: same start, end and type. Overlap match: same
type and overlapping offsets (each gold and each prediction matched at most once).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

sys.path.insert(0, str(Path(__file__).parent))
import pii_corpus
import pii_corpus_independent
import pii_corpus_records
from pii_corpus import Doc

from datawheel.privacy.scan import scan_pii
from datawheel.privacy.spans import Span, resolve_overlaps

# Presidio entity -> datawheel type; the rest (US_BANK_NUMBER, DATE_TIME, NRP …) are not scored.
PRESIDIO_MAP = {
    "PERSON": "PERSON", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN", "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS", "URL": "URL", "LOCATION": "ADDRESS", "US_PASSPORT": "PASSPORT",
}  # fmt: skip
PRESIDIO_TYPES = set(PRESIDIO_MAP.values())
TYPES = [
    "PERSON",
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "CN_RESIDENT_ID",
    "IP_ADDRESS",
    "URL",
    "ADDRESS",
    "DATE_OF_BIRTH",
    "PASSPORT",
]
TARGET_095 = {
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "CN_RESIDENT_ID",
    "IP_ADDRESS",
    "URL",
}

Triple = tuple[int, int, str]


def run_datawheel(docs: list[Doc]) -> tuple[list[list[Triple]], float]:
    texts = [d.text for d in docs]
    scan_pii(texts[:20])  # load the lists and compile the patterns outside the timing
    t0 = time.perf_counter()
    spans = scan_pii(texts)
    elapsed = time.perf_counter() - t0
    return [[(s.start, s.end, s.type) for s in doc] for doc in spans], elapsed


def presidio_engine(tmp: str):
    """Presidio's AnalyzerEngine on a blank spaCy pipeline saved under ``tmp`` (no download)."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    spacy.blank("en").to_disk(tmp)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": tmp}],
        }
    ).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])


def run_both(docs: list[Doc], chunk: int = 100) -> tuple[list, float, list, float]:
    """datawheel and Presidio on the same chunks, alternating, so that both see the same load on
    a shared machine; returns (datawheel spans, seconds, Presidio raw spans, seconds)."""
    texts = [d.text for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        engine = presidio_engine(tmp)
        engine.analyze(texts[0], language="en")  # warm up outside the timing
        scan_pii(texts[:20])
        dw, raw, dw_t, pr_t = [], [], 0.0, 0.0
        for i in range(0, len(texts), chunk):
            part = texts[i : i + chunk]
            t0 = time.perf_counter()
            dw += scan_pii(part)
            t1 = time.perf_counter()
            raw += [engine.analyze(t, language="en") for t in part]
            t2 = time.perf_counter()
            dw_t, pr_t = dw_t + t1 - t0, pr_t + t2 - t1
    dw_out = [[(s.start, s.end, s.type) for s in doc] for doc in dw]
    pr_out = [
        [(r.start, r.end, PRESIDIO_MAP[r.entity_type], r.score) for r in res
         if r.entity_type in PRESIDIO_MAP]
        for res in raw
    ]  # fmt: skip
    return dw_out, dw_t, pr_out, pr_t


def presidio_at(
    raw: list[list[tuple[int, int, str, float]]], threshold: float
) -> list[list[Triple]]:
    """Presidio spans at or above ``threshold``, overlaps resolved as for datawheel."""
    out = []
    for doc in raw:
        spans = [Span(s, e, t, sc) for s, e, t, sc in doc if sc >= threshold]
        out.append([(s.start, s.end, s.type) for s in resolve_overlaps(spans)])
    return out


def score(gold: list[list[Triple]], pred: list[list[Triple]], overlap: bool) -> dict[str, tuple]:
    """Per type: (precision, recall, F1, support)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for g_doc, p_doc in zip(gold, pred, strict=True):
        unmatched = list(p_doc)
        for g in g_doc:
            hit = next(
                (
                    p
                    for p in unmatched
                    if p[2] == g[2]
                    and ((p[0] < g[1] and g[0] < p[1]) if overlap else p[:2] == g[:2])
                ),
                None,
            )
            if hit is None:
                fn[g[2]] += 1
            else:
                tp[g[2]] += 1
                unmatched.remove(hit)
        for p in unmatched:
            fp[p[2]] += 1
    table = {}
    for t in TYPES:
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 0.0
        r = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        table[t] = (p, r, f, tp[t] + fn[t])
    return table


def person_by_lang(docs: list[Doc], pred: list[list[Triple]]) -> dict[str, tuple]:
    out = {}
    for lang in ("en", "zh"):
        idx = [i for i, d in enumerate(docs) if d.lang == lang]
        gold = [[g for g in docs[i].spans if g[2] == "PERSON"] for i in idx]
        got = [[p for p in pred[i] if p[2] == "PERSON"] for i in idx]
        out[lang] = score(gold, got, overlap=False)["PERSON"]
    return out


def run_jieba(docs: list[Doc]) -> tuple[list[list[Triple]], float]:
    """Chinese PERSON by jieba's POS tagger: every word tagged ``nr`` (person name) is a span."""
    import logging

    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    list(pseg.cut("初始化"))  # load the HMM tables outside the timing
    t0 = time.perf_counter()
    out = []
    for d in docs:
        spans, pos = [], 0
        for word, flag in pseg.cut(d.text):
            if flag == "nr":
                spans.append((pos, pos + len(word), "PERSON"))
            pos += len(word)
        out.append(spans)
    return out, time.perf_counter() - t0


def clean_false_positives(docs: list[Doc], pred: list[list[Triple]]) -> dict[str, tuple]:
    """Per language: (clean texts, spans reported per 100 clean texts, % of clean texts hit)."""
    out = {}
    for lang in ("en", "zh"):
        idx = [i for i, d in enumerate(docs) if d.lang == lang and not d.spans]
        spans = sum(len(pred[i]) for i in idx)
        hit = sum(1 for i in idx if pred[i])
        n = len(idx) or 1
        out[lang] = (len(idx), 100 * spans / n, 100 * hit / n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=("builtin", "independent", "records"), default="builtin")
    ap.add_argument(
        "--split", choices=("dev", "heldout"), default="dev", help="independent, records"
    )
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None, help="default: 0, or the split's own seed")
    ap.add_argument("--skip-peer", action="store_true", help="datawheel only (quick checks)")
    ap.add_argument("--errors", type=str, default="", help="print datawheel misses of a TYPE")
    ap.add_argument("--heldout", action="store_true", help="builtin: the held-out templates")
    args = ap.parse_args()

    independent = args.corpus in ("independent", "records")
    if independent:
        module = pii_corpus_independent if args.corpus == "independent" else pii_corpus_records
        docs = module.make_corpus(args.docs, split=args.split, seed=args.seed)
        types = list(module.TYPES)
        targets = set(module.STRUCTURED)
        label = f"{args.corpus}/{args.split}"
    else:
        seed = 0 if args.seed is None else args.seed
        docs = pii_corpus.make_corpus(args.docs, seed=seed, heldout=args.heldout)
        types, targets = TYPES, TARGET_095
        label = "builtin" + ("/heldout" if args.heldout else "")
    gold = [[(s, e, t) for s, e, t in d.spans] for d in docs]
    chars = sum(len(d.text) for d in docs) / len(docs)
    support = Counter(t for g in gold for _, _, t in g)
    print(
        f"corpus {label}: {len(docs)} docs ({sum(d.lang == 'en' for d in docs)} en, "
        f"{sum(d.lang == 'zh' for d in docs)} zh), {chars:.0f} chars/doc, "
        f"{sum(support.values())} gold spans"
    )

    if args.skip_peer:
        dw_pred, dw_time = run_datawheel(docs)
    else:
        dw_pred, dw_time, raw, pr_time = run_both(docs)
    dw_pred = [[p for p in doc if p[2] in types] for doc in dw_pred]
    dw_exact, dw_overlap = score(gold, dw_pred, False), score(gold, dw_pred, True)
    if args.errors:
        _print_errors(docs, dw_pred, args.errors)

    peer = None
    if not args.skip_peer:
        thresholds = (0.0, 0.3, 0.5)
        by_th = {th: presidio_at(raw, th) for th in thresholds}
        by_th = {th: [[p for p in doc if p[2] in types] for doc in v] for th, v in by_th.items()}
        pr_exact = {th: score(gold, p, False) for th, p in by_th.items()}
        # generous to the peer: per type, the best of its thresholds (exact-match F1)
        best = {t: max(thresholds, key=lambda th, t=t: pr_exact[th][t][2]) for t in TYPES}
        pr_best = {t: pr_exact[best[t]][t] for t in TYPES}
        pr_overlap = {t: score(gold, by_th[best[t]], True)[t] for t in TYPES}
        peer = (pr_best, pr_overlap, best, pr_time)

    print(f"\n{'type':15}{'n':>6} | {'datawheel P':>11}{'R':>7}{'F1':>7}{'ovl F1':>8}", end="")
    print(f" | {'presidio P':>10}{'R':>7}{'F1':>7}{'ovl F1':>8}{'thr':>5}" if peer else "")
    for t in types:
        p, r, f, n = dw_exact[t]
        line = f"{t:15}{n:>6} | {p:>11.3f}{r:>7.3f}{f:>7.3f}{dw_overlap[t][2]:>8.3f}"
        if peer:
            if t in PRESIDIO_TYPES:
                pp, pr_, pf, _ = peer[0][t]
                line += (
                    f" | {pp:>10.3f}{pr_:>7.3f}{pf:>7.3f}{peer[1][t][2]:>8.3f}{peer[2][t]:>5.1f}"
                )
            else:
                line += f" | {'(no recognizer)':>37}"
        print(line)
    both = [
        t
        for t in types
        if t in PRESIDIO_TYPES and t not in ("PERSON", "ADDRESS") and support[t] > 0
    ]
    dw_macro = sum(dw_exact[t][2] for t in both) / len(both)
    print(
        f"\nmacro F1 over the {len(both)} types both support with patterns "
        f"({', '.join(both)}): datawheel {dw_macro:.3f}",
        end="",
    )
    if peer:
        print(f", presidio {sum(peer[0][t][2] for t in both) / len(both):.3f}")
    else:
        print()
    lang = person_by_lang(docs, dw_pred)
    print(
        "PERSON by language (datawheel, exact P/R/F1): "
        + ", ".join(f"{k} {v[0]:.3f}/{v[1]:.3f}/{v[2]:.3f} (n={v[3]})" for k, v in lang.items())
    )
    print("PERSON / LOCATION in Presidio: unavailable (no spaCy NER model can be downloaded).")
    low = [t for t in targets if support[t] and dw_exact[t][2] < 0.95]
    print(f"structured types under the 0.95 F1 target: {', '.join(sorted(low)) or 'none'}")
    if independent:
        fp = clean_false_positives(docs, dw_pred)
        for k, (n, per100, hit) in fp.items():
            print(
                f"false positives on {n} clean {k} texts: {per100:.1f} spans per 100 texts "
                f"({hit:.1f} % of the texts hit)"
            )
        _compare_jieba(docs, dw_pred, args.skip_peer)

    dw_rate = len(docs) / dw_time
    print(f"\nthroughput: datawheel {dw_rate:,.0f} docs/s ({dw_time:.2f} s)", end="")
    if peer:
        pr_rate = len(docs) / peer[3]
        print(f", presidio {pr_rate:,.0f} docs/s ({peer[3]:.2f} s), ratio {dw_rate / pr_rate:.1f}x")
    else:
        print()


def _compare_jieba(docs: list[Doc], dw_pred: list[list[Triple]], skip: bool) -> None:
    """Chinese PERSON: datawheel against jieba's ``nr`` tags on the same Chinese documents."""
    try:
        import jieba  # noqa: F401
    except ImportError:
        print("jieba not installed: `pip install jieba` for the segmenter comparison")
        return
    if skip:
        return
    zh = [i for i, d in enumerate(docs) if d.lang == "zh"]
    zdocs = [docs[i] for i in zh]
    gold = [[g for g in d.spans if g[2] == "PERSON"] for d in zdocs]
    jb, jb_time = run_jieba(zdocs)
    mine = [[p for p in dw_pred[i] if p[2] == "PERSON"] for i in zh]
    t0 = time.perf_counter()
    scan_pii([d.text for d in zdocs], lang="zh", entities=["PERSON"])
    dw_time = time.perf_counter() - t0
    print(f"\nChinese PERSON on {len(zdocs)} zh docs ({sum(map(len, gold))} names):")
    for name, pred, secs in (("datawheel", mine, dw_time), ("jieba nr", jb, jb_time)):
        p, r, f, _ = score(gold, pred, False)["PERSON"]
        fo = score(gold, pred, True)["PERSON"][2]
        fp = clean_false_positives(zdocs, pred)["zh"]
        print(
            f"  {name:10} P {p:.3f} R {r:.3f} F1 {f:.3f} (overlap F1 {fo:.3f}); "
            f"{fp[1]:.1f} false names per 100 clean texts; {len(zdocs) / secs:,.0f} docs/s"
        )


def _print_errors(docs: list[Doc], pred: list[list[Triple]], kind: str) -> None:
    shown = 0
    for d, p in zip(docs, pred, strict=True):
        g = {s for s in d.spans if s[2] == kind}
        q = {s for s in p if s[2] == kind}
        if g != q and shown < 25:
            shown += 1
            print("---", d.text.replace("\n", " "))
            print("   missed:", [d.text[s:e] for s, e, _ in sorted(g - q)])
            print("   extra: ", [d.text[s:e] for s, e, _ in sorted(q - g)])


if __name__ == "__main__":
    main()
