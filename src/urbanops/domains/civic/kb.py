"""The FAQ knowledge base: ``id, lang, question, answer, category`` rows from CSV or YAML.

Several rows may share an ``id``: alternative phrasings of the same question, in Korean and/or
English. The answer of an ``(id, lang)`` pair is given on at least one of its rows (the others
may leave it empty). A starter base for a city's common services ships with the package.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from urbanops.errors import ValidationError

LANGS = ("ko", "en")
MAX_ROWS = 50_000
MAX_FILE_BYTES = 20 * 2**20
MAX_QUESTION = 500
MAX_ANSWER = 4000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMNS = ("id", "lang", "question", "answer", "category")


@dataclass(frozen=True)
class Entry:
    """One phrasing of a question."""

    id: str
    lang: str
    question: str
    category: str


@dataclass
class KnowledgeBase:
    """Phrasings, and the answer and category of every ``(id, lang)``."""

    entries: list[Entry]
    answers: dict[tuple[str, str], str]
    categories: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """The distinct answer ids, in file order."""
        return list(dict.fromkeys(e.id for e in self.entries))

    def answer(self, answer_id: str, lang: str) -> tuple[str, str]:
        """``(answer, lang)``: in ``lang`` when the base has it, else in the other language."""
        if (answer_id, lang) in self.answers:
            return self.answers[(answer_id, lang)], lang
        for other in LANGS:
            if (answer_id, other) in self.answers:
                return self.answers[(answer_id, other)], other
        raise KeyError(answer_id)

    def subset(self, keep: set[tuple[str, str]]) -> KnowledgeBase:
        """Only the ``(id, lang)`` pairs in ``keep`` (e.g. one language of some answers)."""
        return KnowledgeBase(
            [e for e in self.entries if (e.id, e.lang) in keep],
            {k: v for k, v in self.answers.items() if k in keep},
            dict(self.categories),
        )


def build_kb(
    rows: list[dict[str, Any]], *, source: str = "knowledge base", first_row: int = 2
) -> KnowledgeBase:
    """Validate rows (dicts with :data:`COLUMNS`) into a :class:`KnowledgeBase`.

    Raises
    ------
    ValidationError
        Naming the first bad row (numbered from ``first_row``: 2 for a CSV line under its
        header, 1 for an item of a JSON list): a missing or malformed id, a language other
        than ko/en, an empty or overlong question or answer, an (id, lang) without an
        answer, conflicting categories of one id.
    """
    if not rows:
        raise ValidationError(f"{source}: no rows")
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"{source}: more than {MAX_ROWS:,} rows")
    entries: list[Entry] = []
    answers: dict[tuple[str, str], str] = {}
    categories: dict[str, str] = {}
    for n, row in enumerate(rows, start=first_row):
        if not isinstance(row, dict):
            raise ValidationError(f"{source} row {n}: expected a mapping")
        kid = str(row.get("id") or "").strip()
        lang = str(row.get("lang") or "").strip().lower()
        question = " ".join(str(row.get("question") or "").split())
        answer = str(row.get("answer") or "").strip()
        category = str(row.get("category") or "").strip() or "general"
        if not _ID.match(kid):
            raise ValidationError(f"{source} row {n}: id {kid!r} (letters, digits, _ . -; <= 64)")
        if lang not in LANGS:
            raise ValidationError(f"{source} row {n}: lang {lang!r} must be ko or en")
        if not 1 <= len(question) <= MAX_QUESTION:
            raise ValidationError(f"{source} row {n}: question must be 1-{MAX_QUESTION} characters")
        if len(answer) > MAX_ANSWER:
            raise ValidationError(f"{source} row {n}: answer longer than {MAX_ANSWER} characters")
        if len(category) > 64:
            raise ValidationError(f"{source} row {n}: category longer than 64 characters")
        if categories.setdefault(kid, category) != category:
            raise ValidationError(
                f"{source} row {n}: id {kid!r} has categories {categories[kid]!r} and {category!r}"
            )
        if answer and answers.setdefault((kid, lang), answer) != answer:
            raise ValidationError(f"{source} row {n}: {kid}/{lang} has two different answers")
        entries.append(Entry(kid, lang, question, category))
    missing = sorted({(e.id, e.lang) for e in entries} - set(answers))
    if missing:
        raise ValidationError(f"{source}: no answer for {missing[0][0]}/{missing[0][1]}")
    return KnowledgeBase(entries, answers, categories)


def read_kb(path: Path | str) -> KnowledgeBase:
    """A knowledge base from a CSV (UTF-8) or YAML (a list of rows) file."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"knowledge base not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationError(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{path.name}: not UTF-8 text") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            rows = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(f"{path.name}: not valid YAML ({exc})") from None
        if not isinstance(rows, list):
            raise ValidationError(f"{path.name}: expected a list of rows")
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in ("id", "lang", "question") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(f"{path.name}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    return build_kb(rows, source=path.name)


def starter_kb() -> KnowledgeBase:
    """The starter base shipped with UrbanOps (39 answers on waste, parking, permits, heat,
    floods, bikes, taxis, welfare and general help, in Korean and English)."""
    with resources.as_file(resources.files("urbanops.domains.civic") / "data" / "kb.csv") as p:
        return read_kb(p)


def write_kb(kb: KnowledgeBase, path: Path | str) -> Path:
    """Write the base as CSV (the first row of every ``(id, lang)`` carries the answer)."""
    path = Path(path)
    seen: set[tuple[str, str]] = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for e in kb.entries:
            key = (e.id, e.lang)
            writer.writerow(
                [e.id, e.lang, e.question, "" if key in seen else kb.answers[key], e.category]
            )
            seen.add(key)
    return path


def load_stored(conn: Any) -> tuple[KnowledgeBase | None, str]:
    """The staff-edited base from the database (None when empty) and a version tag."""
    from sqlalchemy import func, select

    from urbanops.domains.civic.tables import civic_kb_rows as k

    count, latest = conn.execute(select(func.count(), func.max(k.c.updated_at))).one()
    if not count:
        return None, "starter"
    rows = conn.execute(select(k).order_by(k.c.id)).all()
    kb = build_kb(
        [
            {"id": r.answer_id, "lang": r.lang, "question": r.question, "answer": r.answer,
             "category": r.category}
            for r in rows
        ],
        source="stored knowledge base",
    )  # fmt: skip
    return kb, f"{count}:{latest.isoformat() if latest else ''}"


def store(conn: Any, kb: KnowledgeBase, *, now: Any) -> int:
    """Replace the stored base with ``kb`` (in the caller's transaction: all or nothing)."""
    from sqlalchemy import delete, insert

    from urbanops.domains.civic.tables import civic_kb_rows as k

    conn.execute(delete(k))
    rows = [
        {"answer_id": e.id, "lang": e.lang, "question": e.question,
         "answer": kb.answers[(e.id, e.lang)], "category": e.category, "updated_at": now}
        for e in kb.entries
    ]  # fmt: skip
    if rows:
        conn.execute(insert(k), rows)
    return len(rows)
