"""The language a line is written in, told from the Unicode scripts of its letters.

A script does not always name one language, so the rule is the plainest that holds for
subtitles: any kana (hiragana, katakana) is Japanese, kanji included; Hangul is Korean; Han
without kana is Chinese; otherwise the script most of the letters are in decides (Cyrillic:
Russian, Arabic, Hebrew, Greek, Thai, Devanagari: Hindi ...), and Latin letters are taken as
English, unless the file's Latin-script lines as a whole read as another language
(:func:`latin_language`: py3langid's naive Bayes model, which ships in its wheel; one short
line says too little to tell French from English, a file says plenty). A character's
``language`` in the casting file decides over both.

The script of a letter is read from its Unicode character name (``CYRILLIC SMALL LETTER A``,
``CJK UNIFIED IDEOGRAPH-4E2D``, ``HIRAGANA LETTER A``), so every block of a script counts.
"""
from __future__ import annotations

import functools
import re
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
# Latin-script languages told apart per file (:func:`latin_language`)
LATIN: dict[str, str] = {
    "en": "English", "fr": "French", "es": "Spanish", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
    "cs": "Czech", "ro": "Romanian", "hu": "Hungarian", "tr": "Turkish", "id": "Indonesian", "vi": "Vietnamese",
}
LATIN_MIN_WORDS = 20                # less text than this is not evidence enough
LATIN_MIN_PROBABILITY = 0.99
NAMES: dict[str, str] = {code: name for code, name in LANGUAGES.values()} | LATIN
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
        return f"{NAMES[code]} ({SCRIPT_OF.get(code, 'Latin')} script)"
    return f"{code} script" if code.isalpha() and len(code) > 3 else code


def latin_language(texts: list[str]) -> tuple[str, float] | None:
    """The language the Latin-script lines of one file are written in, with its probability
    among :data:`LATIN`, when they hold at least :data:`LATIN_MIN_WORDS` words; None otherwise.
    Run on the file's lines together: a subtitle line is too short to tell by itself."""
    text = " ".join(t for t in texts if t.strip())
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.casefold())
    if len(words) < LATIN_MIN_WORDS:
        return None
    if sum(w in _ENGLISH_WORDS for w in words) >= 0.25 * len(words):
        return "en", 1.0          # English beyond doubt: the model (3 s to load) is not needed
    return _latin_identifier().classify(text)


# English's commonest words: a quarter of any English dialogue, a few percent of other languages'
_ENGLISH_WORDS = frozenset("""the you i to a and it is of that what in me this my we he your not be on do have
are for no was with just so but all know can don't it's i'm get go me here there they she him her his
don't what's that's you're yes yeah oh well right come now out up about if like one how want will
would could did got why who then an at as or from our us them been were had has when where""".split())


@functools.lru_cache(maxsize=1)
def _latin_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)   # the model inside the wheel
    ident.set_languages(sorted(LATIN))
    return ident
