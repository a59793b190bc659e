"""The language a line is written in, told from the Unicode scripts of its letters.

A script does not always name one language, so the rule is the plainest that holds for
subtitles: any kana (hiragana, katakana) is Japanese, kanji included; Hangul is Korean; Han
without kana is Chinese; otherwise the script most of the letters are in decides (Cyrillic:
Russian, Arabic, Hebrew, Greek, Thai, Devanagari: Hindi ...), and Latin letters are taken as
English (telling French from English is a job for the casting file's ``language``).

The script of a letter is read from its Unicode character name (``CYRILLIC SMALL LETTER A``,
``CJK UNIFIED IDEOGRAPH-4E2D``, ``HIRAGANA LETTER A``), so every block of a script counts.
"""
from __future__ import annotations

import functools
import unicodedata
from collections import Counter

# script -> (language code, how a message names the language)
LANGUAGES: dict[str, tuple[str, str]] = {
    "Latin": ("en", "English"),
    "Han": ("zh", "Chinese"),
    "Kana": ("ja", "Japanese"),
    "Hangul": ("ko", "Korean"),
    "Cyrillic": ("ru", "Russian"),
    "Arabic": ("ar", "Arabic"),
    "Hebrew": ("he", "Hebrew"),
    "Greek": ("el", "Greek"),
    "Thai": ("th", "Thai"),
    "Devanagari": ("hi", "Hindi"),
    "Bengali": ("bn", "Bengali"),
    "Tamil": ("ta", "Tamil"),
    "Armenian": ("hy", "Armenian"),
    "Georgian": ("ka", "Georgian"),
    "Ethiopic": ("am", "Amharic"),
}
NAMES: dict[str, str] = {code: name for code, name in LANGUAGES.values()}
SCRIPT_OF: dict[str, str] = {code: script for script, (code, _name) in LANGUAGES.items()}

_PREFIXES = ("FULLWIDTH ", "HALFWIDTH ", "MATHEMATICAL ", "SMALL ", "CIRCLED ", "PARENTHESIZED ")


@functools.lru_cache(maxsize=4096)
def script_of(ch: str) -> str | None:
    """The script of one letter (``Latin``, ``Han``, ``Kana``, ``Cyrillic`` ...); None for
    anything that is not a letter (digits, punctuation, spaces, symbols)."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    for p in _PREFIXES:
        if name.startswith(p):
            name = name[len(p):]
    if name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")) or ch == "々" or ch == "〇":
        return "Han"
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "Kana"
    if name.startswith("HANGUL"):
        return "Hangul"
    word = name.split(" ", 1)[0]
    return word.capitalize() if word else None


def scripts(text: str) -> Counter:
    """How many letters of ``text`` are in each script."""
    return Counter(s for s in map(script_of, text) if s is not None)


def detect_language(text: str) -> str | None:
    """The language code of ``text`` by the rule above; None when it has no letters (digits
    only, punctuation). Scripts without an entry in :data:`LANGUAGES` come back as their name
    in lower case (``"cherokee"``)."""
    counts = scripts(text)
    if not counts:
        return None
    if counts["Kana"]:
        return "ja"
    if counts["Hangul"]:
        return "ko"
    if counts["Han"]:
        return "zh"
    top = max(counts, key=lambda s: (counts[s], s != "Latin"))
    return LANGUAGES[top][0] if top in LANGUAGES else top.lower()


def language_name(code: str) -> str:
    """``ru`` -> ``Russian (Cyrillic script)``, ``ja`` -> ``Japanese (kana and kanji)``; an
    unknown code as it is."""
    if code == "ja":
        return "Japanese (kana and kanji)"
    if code in NAMES:
        return f"{NAMES[code]} ({SCRIPT_OF[code]} script)"
    return f"{code} script" if code.isalpha() and len(code) > 3 else code
