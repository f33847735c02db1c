"""Suggest the department that handles a complaint, trained on past complaints.

The model: TF-IDF over character 2-5-grams within words (robust to Korean particles, typos and
spacing) and word unigrams and bigrams, into a multinomial logistic regression (scikit-learn);
its class probabilities rank the departments. The baseline the benchmark compares with, a
k-nearest-neighbour vote over TF-IDF character n-grams, is :func:`train_knn`.

A model file is a NumPy ``.npz`` (vocabularies, IDF weights, coefficients, department names):
plain arrays, loaded with ``allow_pickle=False``, so opening one runs no code.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from urbanops.domains.civic.text import normalise
from urbanops.errors import ValidationError

MAX_ROWS = 2_000_000
MAX_FILE_BYTES = 512 * 2**20
MAX_TEXT = 5000


def read_complaints(path: Path | str) -> tuple[list[str], list[str]]:
    """``(texts, departments)`` from a CSV with columns ``text, department`` (UTF-8 or CP949)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"complaints file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationError(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError(f"{path.name}: neither UTF-8 nor CP949 text")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"text", "department"} <= set(reader.fieldnames):
        raise ValidationError(f"{path.name}: needs columns text,department")
    texts, departments = [], []
    for n, row in enumerate(reader, start=2):
        body = normalise(row.get("text") or "")[:MAX_TEXT]
        dept = (row.get("department") or "").strip()
        if not body or not dept:
            raise ValidationError(f"{path.name} line {n}: empty text or department")
        texts.append(body)
        departments.append(dept)
        if len(texts) > MAX_ROWS:
            raise ValidationError(f"{path.name}: more than {MAX_ROWS:,} rows")
    if not texts:
        raise ValidationError(f"{path.name}: no complaints")
    return texts, departments


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)
    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
    )
    return chars, words


@dataclass
class RouteModel:
    """A trained department router."""

    departments: np.ndarray
    char_vocab: np.ndarray
    char_idf: np.ndarray
    word_vocab: np.ndarray
    word_idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    n_train: int

    def _features(self, texts: list[str]) -> sparse.csr_matrix:
        chars, words = _vectorizers()
        parts = []
        for vec, vocab, idf in (
            (chars, self.char_vocab, self.char_idf),
            (words, self.word_vocab, self.word_idf),
        ):
            vec.vocabulary_ = {str(t): i for i, t in enumerate(vocab)}
            vec.idf_ = idf
            parts.append(vec.transform([normalise(t) for t in texts]))
        return sparse.hstack(parts).tocsr()

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probability of each department (columns in :attr:`departments` order)."""
        logits = self._features(texts) @ self.coef.T + self.intercept
        logits = np.asarray(logits)
        if self.coef.shape[0] == 1:  # two departments: one logit
            p = 1 / (1 + np.exp(-logits[:, 0]))
            return np.column_stack([1 - p, p])
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def suggest(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        """The ``k`` most likely departments with their probabilities."""
        p = self.predict_proba([text])[0]
        order = np.argsort(-p)[:k]
        return [
            {"department": str(self.departments[i]), "score": round(float(p[i]), 4)} for i in order
        ]

    def save(self, path: Path | str) -> Path:
        """Write the model as a plain ``.npz``."""
        path = Path(path)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                departments=self.departments.astype(str),
                char_vocab=self.char_vocab.astype(str),
                char_idf=self.char_idf,
                word_vocab=self.word_vocab.astype(str),
                word_idf=self.word_idf,
                coef=self.coef,
                intercept=self.intercept,
                n_train=np.array([self.n_train]),
            )
        return path

    @classmethod
    def load(cls, path: Path | str) -> RouteModel:
        """Read a model written by :meth:`save` (no pickles are read)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(
                    departments=z["departments"],
                    char_vocab=z["char_vocab"],
                    char_idf=z["char_idf"],
                    word_vocab=z["word_vocab"],
                    word_idf=z["word_idf"],
                    coef=z["coef"],
                    intercept=z["intercept"],
                    n_train=int(z["n_train"][0]),
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValidationError(f"{path.name}: not a routing model ({exc})") from None


def train(texts: list[str], departments: list[str], *, c: float = 10.0) -> RouteModel:
    """Fit the router on past complaints (at least two departments)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(departments)) < 2:
        raise ValidationError("training needs complaints of at least two departments")
    chars, words = _vectorizers()
    clean = [normalise(t) for t in texts]
    x = sparse.hstack([chars.fit_transform(clean), words.fit_transform(clean)]).tocsr()
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, np.asarray(departments))

    def vocab(vec: Any) -> np.ndarray:
        items = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
        return np.array([k for k, _ in items])

    return RouteModel(
        departments=np.asarray(clf.classes_).astype(str),
        char_vocab=vocab(chars),
        char_idf=chars.idf_,
        word_vocab=vocab(words),
        word_idf=words.idf_,
        coef=clf.coef_,
        intercept=clf.intercept_,
        n_train=len(texts),
    )


@dataclass
class KnnBaseline:
    """TF-IDF character n-gram k-nearest-neighbour vote (the benchmark's baseline)."""

    vectorizer: Any
    matrix: sparse.csr_matrix
    labels: np.ndarray
    k: int

    def predict_proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vote shares by department (similarity-weighted) and the department names."""
        q = self.vectorizer.transform([normalise(t) for t in texts])
        sims = (q @ self.matrix.T).toarray()
        classes, y = np.unique(self.labels, return_inverse=True)
        top = np.argsort(-sims, axis=1)[:, : self.k]
        votes = np.zeros((len(texts), classes.size))
        rows = np.repeat(np.arange(len(texts)), top.shape[1])
        np.add.at(votes, (rows, y[top.ravel()]), sims[rows, top.ravel()] + 1e-6)
        return votes, classes


def train_knn(texts: list[str], departments: list[str], *, k: int = 10) -> KnnBaseline:
    """The baseline: TF-IDF character 2-4-grams, cosine, ``k`` neighbours."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    matrix = vec.fit_transform([normalise(t) for t in texts]).tocsr()
    return KnnBaseline(vec, matrix, np.asarray(departments), k)


def top_k_accuracy(proba: np.ndarray, classes: np.ndarray, truth: list[str], k: int) -> float:
    """Share of complaints whose department is among the ``k`` best."""
    order = np.argsort(-proba, axis=1)[:, :k]
    names = np.asarray(classes)[order]
    return float(np.mean([t in row for t, row in zip(truth, names.tolist(), strict=True)]))


def evaluate(model: RouteModel, texts: list[str], departments: list[str]) -> dict[str, Any]:
    """``{"top1", "top3", "n"}`` of a model on labelled complaints."""
    proba = model.predict_proba(texts)
    return {
        "top1": round(top_k_accuracy(proba, model.departments, departments, 1), 4),
        "top3": round(top_k_accuracy(proba, model.departments, departments, 3), 4),
        "n": len(texts),
    }
