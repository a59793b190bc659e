"""How far what was heard is from what the line says: word error rate for English, toneless
pinyin syllable error rate for Mandarin (Latin words inside a Mandarin line count as words).

Both sides go through the same normaliser: case and punctuation dropped, traditional
characters simplified (Whisper answers Mandarin partly in traditional ones), numbers read
the same way (digits in Mandarin by the reader the engine uses, :func:`normalize_zh_numbers`;
English digits as words), so "3.5 kilograms" and "three point five kilograms" agree.
"""
from __future__ import annotations

import functools
import re

from ..text.speech import has_han, normalize_zh_numbers

SCORER = "wer-en/pinyin-zh/1"      # part of the QA cache key: change it when scoring changes

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _say(n: int) -> list[str]:
    """A whole number as English words (scale words up to the billions, as speech reads them)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for size, word in ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return _say(n // size) + [word] + (_say(rest) if rest else [])
    return []


def english_number(m: re.Match) -> str:
    whole, _, frac = m.group(0).replace(",", "").partition(".")
    words = _say(int(whole)) if len(whole) < 13 else list(whole)
    if frac:
        words += ["point"] + [_ONES[int(d)] for d in frac]
    return " " + " ".join(words) + " "


@functools.lru_cache(maxsize=1)
def _simplify():
    try:
        import opencc
    except ImportError:
        return lambda s: s
    return opencc.OpenCC("t2s").convert


def tokens(text: str, language: str) -> list[str]:
    """The units a score counts: English words, or toneless pinyin syllables and Latin words."""
    text = text.lower().replace("’", "'")
    if language == "zh" or has_han(text):
        from pypinyin import Style, lazy_pinyin

        text = normalize_zh_numbers(_simplify()(text))
        text = re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", english_number, text)
        out: list[str] = []
        for piece in lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: [s]):
            out += re.findall(r"[a-zü']+|[^\W\d_]", piece)
        return [t.strip("'") for t in out if t.strip("'")]
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)            # 3 p.m. = 3 pm = 3pm
    text = re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", english_number, text)
    return [w.strip("'") for w in re.findall(r"[\w']+", text) if w.strip("'")]


def error_rate(reference: str, heard: str, language: str) -> float:
    """Edits (substitutions, insertions, deletions) per reference unit, capped at 1."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = tokens(reference, language), tokens(heard, language)
    if not ref:
        return 0.0 if not hyp else 1.0
    return min(1.0, Levenshtein.distance(ref, hyp) / len(ref))
