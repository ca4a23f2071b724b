"""Seeded synthetic corpora with known near-duplicate clusters, for the dedup benchmark.

Documents are Faker lorem text (its en_US or zh_CN word list, sampled with numpy so a million
documents take seconds). Some documents get 1-3 near duplicates, each with a fraction of word
edits (insert / delete / replace); a few percent of rows are verbatim copies of others. Rows are
shuffled; ``cluster[i]`` names row i's generated cluster (ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Corpus:
    texts: list[str]
    cluster: np.ndarray  # int64 [n]: rows with the same value were generated from one document
    lang: str
    ids: list[np.ndarray]  # the word ids (into vocabulary(lang)) of each row


def vocabulary(lang: str) -> list[str]:
    """Faker's lorem word list for the language."""
    if lang == "en":
        from faker.providers.lorem.en_US import Provider
    elif lang == "zh":
        from faker.providers.lorem.zh_CN import Provider
    else:
        raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
    return list(Provider.word_list)


def _render(words: list[str], lang: str, rng: np.random.Generator) -> str:
    """Sentences of 6-14 words: capitalized and space-separated (en) or unspaced with 。 (zh)."""
    out, i = [], 0
    while i < len(words):
        k = int(rng.integers(6, 15))
        sentence = words[i : i + k]
        i += k
        if lang == "en":
            out.append(" ".join(sentence).capitalize() + ".")
        else:
            out.append("".join(sentence) + "。")
    return (" " if lang == "en" else "").join(out)


def _edit(idx: np.ndarray, rate: float, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """Apply round(rate * len) random word edits, each an insert, delete or replace."""
    words = idx.tolist()
    for _ in range(max(1, round(rate * len(idx)))):
        op = int(rng.integers(3))
        pos = int(rng.integers(len(words)))
        if op == 0:
            words.insert(pos, int(rng.integers(vocab_size)))
        elif op == 1 and len(words) > 1:
            del words[pos]
        else:
            words[pos] = int(rng.integers(vocab_size))
    return np.asarray(words)


def make_corpus(
    n_docs: int,
    lang: str,
    *,
    seed: int = 0,
    words: tuple[int, int] = (50, 300),
    edits: tuple[float, float] = (0.05, 0.15),
    dup_rate: float = 0.3,
    copy_rate: float = 0.05,
) -> Corpus:
    """n_docs rows: base documents, near duplicates of ``dup_rate`` of them (1-3 each, with an
    edit fraction drawn from ``edits``), and ``copy_rate`` verbatim copies, shuffled."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(lang)
    n_copies = round(copy_rate * n_docs)
    seqs: list[np.ndarray] = []
    labels: list[int] = []
    base = 0
    while len(seqs) < n_docs - n_copies:
        doc = rng.integers(len(vocab), size=int(rng.integers(words[0], words[1] + 1)))
        seqs.append(doc)
        labels.append(base)
        if rng.random() < dup_rate:
            for _ in range(int(rng.integers(1, 4))):
                seqs.append(_edit(doc, float(rng.uniform(*edits)), len(vocab), rng))
                labels.append(base)
        base += 1
    seqs, labels = seqs[: n_docs - n_copies], labels[: n_docs - n_copies]
    texts = [_render([vocab[i] for i in s.tolist()], lang, rng) for s in seqs]
    for src in rng.integers(len(texts), size=n_copies).tolist():
        texts.append(texts[src])
        labels.append(labels[src])
        seqs.append(seqs[src])
    order = rng.permutation(len(texts)).tolist()
    return Corpus(
        [texts[i] for i in order],
        np.asarray(labels, dtype=np.int64)[order],
        lang,
        [seqs[i] for i in order],
    )


def scale_corpus(n_docs: int, lang: str = "en", *, seed: int = 0) -> list[str]:
    """A large corpus, fast: a 20,000-row corpus of the same shape repeated, each repeat with its
    words relabelled by a fresh random permutation of the vocabulary, so repeats are unrelated
    to each other while each keeps the duplicate structure."""
    base = make_corpus(min(n_docs, 20_000), lang, seed=seed)
    vocab = vocabulary(lang)
    sep = " " if lang == "en" else ""
    ids = base.ids
    rng = np.random.default_rng(seed + 1)
    out: list[str] = []
    while len(out) < n_docs:
        relabel = rng.permutation(len(vocab))
        for s in ids[: n_docs - len(out)]:
            out.append(sep.join([vocab[i] for i in relabel[s].tolist()]))
    return out
