"""Text for speech: what a line says, as an engine should read it.

Engine-independent: subtitle annotations out, Chinese numbers, dates, times and money
written out the way a Mandarin speaker reads them, user-written pinyin (``重(chóng)复``
or ``重(chong2)复``) normalised to tone numbers ``重(chong2)`` for the engine's front
end, and lines split into Han and Latin runs for engines that phonemize per language.
"""
from __future__ import annotations

import functools
import re
import unicodedata

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{HAN}]")
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
_CJK = re.compile(f"[{HAN}{CJK_PUNCT}]")


def join_display(text: str) -> str:
    """Subtitle lines (``\\n``-separated) on one line: no space between two CJK characters,
    one space otherwise."""
    out = ""
    for part in (p.strip() for p in text.split("\n")):
        if not part:
            continue
        if out and not (_CJK.match(out[-1]) and _CJK.match(part[0])):
            out += " "
        out += part
    return out


# ------------------------------------------------------------------ pinyin

_TONE_MARKS = {
    "ā": ("a", 1), "á": ("a", 2), "ǎ": ("a", 3), "à": ("a", 4),
    "ē": ("e", 1), "é": ("e", 2), "ě": ("e", 3), "è": ("e", 4),
    "ī": ("i", 1), "í": ("i", 2), "ǐ": ("i", 3), "ì": ("i", 4),
    "ō": ("o", 1), "ó": ("o", 2), "ǒ": ("o", 3), "ò": ("o", 4),
    "ū": ("u", 1), "ú": ("u", 2), "ǔ": ("u", 3), "ù": ("u", 4),
    "ǖ": ("ü", 1), "ǘ": ("ü", 2), "ǚ": ("ü", 3), "ǜ": ("ü", 4),
    "ḿ": ("m", 2), "ń": ("n", 2), "ň": ("n", 3), "ǹ": ("n", 4),
}
def _split_tone(syllable: str) -> tuple[str, int | None] | None:
    s = unicodedata.normalize("NFC", syllable.strip().lower())
    tone = None
    if s and s[-1] in "12345":
        tone, s = int(s[-1]), s[:-1]
    out = ""
    for ch in s:
        if ch in _TONE_MARKS:
            base, t = _TONE_MARKS[ch]
            if tone is not None and tone != t:
                return None
            tone = t
            out += base
        else:
            out += ch
    return out.replace("v", "ü"), tone


@functools.lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin knows a character for (about 430)."""
    from pypinyin.pinyin_dict import pinyin_dict

    found = set()
    for readings in pinyin_dict.values():
        for r in readings.split(","):
            split = _split_tone(r)
            if split:
                found.add(split[0])
    return frozenset(found)


def pinyin_to_tone3(syllable: str) -> str | None:
    """``chóng`` / ``chong2`` / ``lü4`` / ``lv4`` -> ``chong2`` / ``lü4``; None if it is not pinyin."""
    split = _split_tone(syllable)
    if split is None or split[0] not in _syllables():
        return None
    return f"{split[0]}{split[1] or 5}"


_INLINE_PINYIN = re.compile(f"([{HAN}])\\s*[(（]\\s*([A-Za-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüḿńňǹ]+[1-5]?)\\s*[)）]")
PINYIN_MARK = re.compile(f"([{HAN}])\\(([a-zü]+[1-5])\\)")


def normalize_inline_pinyin(text: str) -> str:
    """``重(chóng)复`` -> ``重(chong2)复``; parentheses that are not pinyin are left alone."""
    def sub(m: re.Match) -> str:
        t3 = pinyin_to_tone3(m.group(2))
        return f"{m.group(1)}({t3})" if t3 else m.group(0)
    return _INLINE_PINYIN.sub(sub, text)


# ------------------------------------------------------------------ Chinese numbers

_CLASSIFIERS = "个位只条张本次天岁年种件名头匹辆台块层栋双对份项点瓶杯碗句部首间所家门節节课周月"
_DIGITS = "零一二三四五六七八九"


def _digits(s: str) -> str:
    return "".join(_DIGITS[int(d)] for d in s)


def _cardinal(s: str) -> str:
    import cn2an

    out = cn2an.an2cn(s)
    if out.startswith("二") and len(out) > 1 and out[1] in "千万亿":
        out = "两" + out[1:]
    return out


def _time(m: re.Match) -> str:
    h, mi, sec = int(m.group(1)), int(m.group(2)), m.group(3)
    out = ("两" if h == 2 else _cardinal(str(h))) + "点"
    if mi == 30 and not sec:
        out += "半"
    elif mi:
        out += ("零" if mi < 10 else "") + _cardinal(str(mi)) + "分"
    if sec:
        out += _cardinal(str(int(sec))) + "秒"
    return out


def _date(m: re.Match) -> str:
    y, mo, d = m.group(1), int(m.group(2)), int(m.group(3))
    return f"{_digits(y)}年{_cardinal(str(mo))}月{_cardinal(str(d))}日"


_CURRENCY_BEFORE = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑", "HK$": "港币", "US$": "美元"}


def _money(amount: str, unit: str) -> str:
    amount = amount.replace(",", "")
    if "." in amount:
        whole, frac = amount.split(".", 1)
        frac = frac.rstrip("0")
        words = _cardinal(whole) + (("点" + _digits(frac)) if frac else "")
    else:
        words = _cardinal(amount)
    return words + unit


def normalize_zh_numbers(text: str) -> str:
    """Write digits out as a Mandarin speaker reads them (cn2an plus the cases it misses)."""
    import cn2an

    # ISO dates, times, money, thousands separators, long digit strings (phone numbers, codes)
    text = re.sub(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)", _date, text)
    text = re.sub(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])", _time, text)
    text = re.sub(r"(HK\$|US\$|[¥￥$€£])\s*(\d[\d,]*(?:\.\d+)?)",
                  lambda m: _money(m.group(2), _CURRENCY_BEFORE[m.group(1)]), text)
    text = re.sub(r"(\d[\d,]*\.\d+)\s*(元|块)", lambda m: _money(m.group(1), m.group(2)), text)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<![\d.])(\d{5,})(?![\d.%年])", lambda m: _digits(m.group(1)) if (len(m.group(1)) >= 7 or m.group(1)[0] == "0") else m.group(1), text)
    text = re.sub(r"(?<![\d.])0(\d+)(?![\d.%])", lambda m: _digits("0" + m.group(1)), text)
    text = re.sub(f"(?<![\\d.第])2(?=[{_CLASSIFIERS}])", "两", text)
    text = re.sub(r"(?<![\d.])(\d+)(?=[千万亿])", lambda m: _cardinal(m.group(1)), text)
    text = cn2an.transform(text, "an2cn")
    # cn2an's cardinals begin with 二 where speech says 两 (两千, 两万)
    text = re.sub("(?<![一二三四五六七八九十百千万零点])二(?=[千万亿])", "两", text)
    return text


# ------------------------------------------------------------------ lines

_LYRIC_LINE = re.compile(r"^\s*[-–—]?\s*[♪♫]")
_ANNOTATION = re.compile(r"\[[^\]]*\]|【[^】]*】|（[^）]*）|\((?![a-zü]+[1-5]\))[^)]*\)|♪[^♪]*♪|[♪♫]")


def has_han(text: str) -> bool:
    return bool(HAN_RE.search(text))


def speakable(text: str) -> bool:
    """True when there is something to say: a letter, a Han character or a digit."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


@functools.lru_cache(maxsize=1 << 16)
def speech_text(display: str, language: str) -> str:
    """The display text of a cue, turned into what the engine should say (a pure function of
    its arguments, so remembered: reading, casting and planning each ask for it)."""
    text = normalize_inline_pinyin(display)
    zh = language.startswith("zh") or has_han(text)
    text = "\n".join(ln for ln in text.split("\n") if not _LYRIC_LINE.match(ln))   # sung, not spoken
    text = _ANNOTATION.sub(lambda m: "\n" * m.group(0).count("\n") or " ", text)  # [music], (laughs), over lines too
    lines: list[str] = []
    for ln in text.split("\n"):
        dash = re.match(r"^\s*[-–—]\s*", ln)
        ln = (ln[dash.end():] if dash else ln).strip()
        if not ln:
            continue
        if dash and lines and unicodedata.category(lines[-1][-1])[0] != "P":
            lines[-1] += "，" if zh else ","       # a second speaker's dash line: pause before it
        lines.append(ln)
    text = join_display("\n".join(lines))
    if zh:
        marks: list[str] = []

        def keep(m: re.Match) -> str:          # protect pinyin tone digits from the number reader
            marks.append(m.group(0))
            return chr(0xE000 + len(marks) - 1)  # a private-use character per mark
        text = PINYIN_MARK.sub(keep, text)
        text = normalize_zh_numbers(text)
        if marks:                              # (other private-use characters in the text stay as they are)
            text = re.sub(f"[\ue000-{chr(0xE000 + len(marks) - 1)}]", lambda m: marks[ord(m.group(0)) - 0xE000], text)
    return re.sub(r"\s+", " ", text).strip()


_RUN = re.compile(f"([{HAN}](?:\\([a-zü]+[1-5]\\))?(?:[{HAN}\\s\\d，。！？、；：“”‘’（）《》…—·\\u3000-\\u303f\\uff00-\\uffef]|\\([a-zü]+[1-5]\\))*)")


def split_runs(text: str) -> list[tuple[str, str]]:
    """Split a line into ``("zh", ...)`` and ``("en", ...)`` runs; punctuation stays with its run."""
    runs: list[tuple[str, str]] = []
    pos = 0
    for m in _RUN.finditer(text):
        if m.start() > pos:
            runs.append(("en", text[pos:m.start()]))
        runs.append(("zh", m.group(0)))
        pos = m.end()
    if pos < len(text):
        runs.append(("en", text[pos:]))
    return [(k, s.strip()) for k, s in runs if s.strip() and speakable(s)] or (
        [("en", text.strip())] if text.strip() else [])
