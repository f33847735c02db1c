"""Text handling shared by retrieval and routing: language, tokens, personal-data masking.

Korean is tokenized into morphemes with Kiwi (kiwipiepy, offline model), keeping the content
morphemes (nouns, verb and adjective stems, roots, foreign words, numbers) so that "버리나요"
and "버려요" meet on "버리". Other text is split into lower-case words with a small English
stop list and crude plural folding. Personal data (phone numbers, e-mail addresses, resident
registration numbers, car plates) is masked before anything is logged or exported.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WORD = re.compile(r"[a-z0-9]+")
_KEEP_TAGS = ("NNG", "NNP", "NR", "SL", "SN", "XR", "VV", "VA", "VX", "SH")
_STOP_WORDS = (
    "a an the is are was were be been am do does did i you he she it we they my your our their "
    "me us them to of in on at for from by with and or but if can could would should will shall "
    "may might must how what when where which who why this that these those there here please "
    "get got have has had any some there's what's i'm it's"
)
_EN_STOP = frozenset(_STOP_WORDS.split())

_PII = [
    # Korean resident registration number (YYMMDD-NNNNNNN)
    (re.compile(r"\b\d{6}\s?-\s?[1-8]\d{6}\b"), "[RRN]"),
    # e-mail
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "[EMAIL]"),
    # Korean mobile and landline numbers, with or without separators, and +82 forms
    (
        re.compile(r"(?:\+82[\s-]?|\b0)(?:1[016789]|2|[3-6][1-5]|70)[\s.-]?\d{3,4}[\s.-]?\d{4}\b"),
        "[PHONE]",
    ),
    # Korean car plates: 12가3456, 123가4567, 서울12가3456
    (
        re.compile(
            r"(?:(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주)"
            r"\s?)?(?<!\d)\d{2,3}\s?[가-힣]\s?\d{4}(?!\d)"
        ),
        "[PLATE]",
    ),
]


def mask_personal_data(text: str) -> str:
    """The text with phone numbers, e-mails, resident numbers and car plates replaced.

    >>> mask_personal_data("차량 12가3456, 연락처 010-1234-5678")
    '차량 [PLATE], 연락처 [PHONE]'
    """
    for pattern, label in _PII:
        text = pattern.sub(label, text)
    return text


def normalise(text: str) -> str:
    """NFKC, control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return " ".join(text.split())


def language(text: str) -> str:
    """``"ko"`` when the text holds Hangul, else ``"en"``."""
    return "ko" if _HANGUL.search(text) else "en"


_kiwi_lock = threading.Lock()


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    from kiwipiepy import Kiwi

    # Without the typo and multi-word dictionaries it loads in half the time; questions are
    # short and the retrieval does not need spelling correction from the tokenizer.
    kiwi = Kiwi(load_typo_dict=False, load_multi_dict=False)
    kiwi.tokenize("준비")  # the first call builds caches: pay it at load time, not per query
    return kiwi


def load_tokenizer() -> None:
    """Load the Korean morphological analyser now (it takes about a second)."""
    with _kiwi_lock:
        _kiwi()


def tokens(text: str) -> list[str]:
    """Content tokens of a Korean and/or English text (see the module docstring)."""
    text = normalise(text).lower()
    out: list[str] = []
    if _HANGUL.search(text):
        with _kiwi_lock:
            morphs = _kiwi().tokenize(text)
        for m in morphs:
            tag = m.tag.split("-")[0]
            if tag in _KEEP_TAGS:
                form = m.form.lower()
                if tag == "SL":
                    out.extend(_english([form]))
                else:
                    out.append(form)
    else:
        out.extend(_english(_WORD.findall(text)))
    return out


def _english(words: list[str]) -> list[str]:
    result = []
    for w in words:
        if w in _EN_STOP or (len(w) < 2 and not w.isdigit()):
            continue
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        result.append(w)
    return result
