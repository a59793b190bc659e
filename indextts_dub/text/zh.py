"""The Mandarin front end: every Han character's reading in context, as tone-number pinyin.

* Words come from jieba; readings from pypinyin with the large phrase table of
  ``pypinyin-dict`` (``large_pinyin``: what of it pypinyin's own tables read otherwise, 32 098
  phrases, ships as package data, :func:`large_table`), so polyphones are read in context:
  重复 chong2, 重量 zhong4, 银行 hang2, 行走 xing2.
* A few context rules cover what the tables miss (很长 chang2, 你得去 dei3, 数一数 shu3).
* Pinyin the user wrote (``重(chóng)复`` or ``重(chong2)复``, normalised by
  :func:`.speech.normalize_inline_pinyin` to ``重(chong2)``) always wins.

Engines use it two ways: a phoneme front end takes :func:`words` (the built-in engine
turns each syllable into Kokoro's phonemes), an engine that reads pinyin inline (IndexTTS2
reads ``chong2``) takes :func:`tone_number_text`: the text with every user-marked
character, and every polyphone read other than its most common reading, replaced by its
tone-number syllable.

Readings are lexical (dictionary tones, 5 for neutral); tone sandhi is the engine's job.
"""
from __future__ import annotations

import functools
import re
import threading
from pathlib import Path

from .speech import HAN_RE, PINYIN_MARK

_lock = threading.Lock()
_SYLLABLE = re.compile(r"[a-zü]+[1-5]")

# phrases the tables read wrongly or miss; added to jieba (so they stay one word) and pypinyin
PHRASES = {
    "数一数": "shu3 yi1 shu3",
    "第一": "di4 yi1",
    "统一": "tong3 yi1",
    "唯一": "wei2 yi1",
    "长长": "chang2 chang2",
    "得很": "de5 hen3",
    "了解": "liao3 jie3",
    "还给": "huan2 gei3",
    "还钱": "huan2 qian2",
    "还书": "huan2 shu1",
    "还清": "huan2 qing1",
    "睡着": "shui4 zhao2",
    "长得": "zhang3 de5",
    "地说": "de5 shuo1",
    "地看": "de5 kan4",
    "地笑": "de5 xiao4",
    "地走": "de5 zou3",
    "地跑": "de5 pao3",
    "地问": "de5 wen4",
    "地点头": "de5 dian3 tou2",
}
# 长 after a degree word is the adjective cháng (很长, 太长, 这么长)
_DEGREE = "很太真好多最更挺不够较越"
# 得 before a verb after a subject or adverb is the modal děi (你得去, 都得走)
_DEI_BEFORE = "去来走做写说学吃喝买卖回跑睡等想找看带赶快马先早小注好抓准"
_DEI_AFTER = "我你他她它们都也就还可总必"


LARGE_TABLE = Path(__file__).with_name("data") / "zh_phrases.tsv"


def large_table() -> dict[str, list[list[str]]]:
    """The phrases of pypinyin-dict's large table that pypinyin's own tables read otherwise
    (package data, rebuilt by scripts/build_zh_phrases.py), as pypinyin's phrase dict."""
    out = {}
    for line in LARGE_TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            phrase, _, reading = line.partition("\t")
            out[phrase] = [[s] for s in reading.split(" ")]
    return out


@functools.lru_cache(maxsize=1)
def _setup() -> None:
    import jieba
    from pypinyin import load_phrases_dict

    load_phrases_dict(large_table())
    jieba.setLogLevel(60)
    load_phrases_dict({k: [[s] for s in v.split()] for k, v in PHRASES.items()}, style="tone3")
    for k in PHRASES:
        jieba.add_word(k, freq=2000)


def _split_marks(text: str) -> tuple[str, dict[int, str]]:
    """``重(chong2)复`` -> (``重复``, {0: "chong2"})."""
    overrides: dict[int, str] = {}
    plain = ""
    pos = 0
    for m in PINYIN_MARK.finditer(text):
        plain += text[pos:m.start()] + m.group(1)
        overrides[len(plain) - 1] = m.group(2)
        pos = m.end()
    return plain + text[pos:], overrides


def _rules(plain: str, readings: list[str | None]) -> None:
    for i, ch in enumerate(plain):
        prev = plain[i - 1] if i else ""
        nxt = plain[i + 1] if i + 1 < len(plain) else ""
        if ch == "一" and prev == "第":          # ordinals never change tone
            readings[i] = "yi1"
        elif ch == "种" and nxt and nxt in "了过着完好下" and readings[i] == "zhong3":   # 人种了花: the verb
            readings[i] = "zhong4"
        elif ch == "还" and prev and prev in "没要去快不先已得会" and nxt and nxt in "你我他她给钱书回清款":
            readings[i] = "huan2"                 # 没还你钱: give back
        elif ch == "长" and readings[i] == "zhang3" and (prev in _DEGREE or plain[max(0, i - 2):i] in ("这么", "那么")) \
                and not (nxt and nxt in "大得成出高"):
            readings[i] = "chang2"
        elif ch == "得" and readings[i] in ("de2", "de5") and prev in _DEI_AFTER and nxt and nxt in _DEI_BEFORE \
                and plain[i + 1:i + 3] not in ("好看", "很", "到"):
            readings[i] = "dei3"


def words(text: str) -> list[tuple[str, list[str | None]]]:
    """``(word, readings)`` pairs covering ``text`` (marks removed); a reading per character,
    tone-number pinyin for Han characters, None for anything else."""
    import jieba
    from pypinyin import Style, lazy_pinyin

    _setup()
    plain, overrides = _split_marks(text)
    with _lock:
        segs = jieba.lcut(plain, cut_all=False, HMM=True)
    readings: list[str | None] = []
    for w in segs:
        if HAN_RE.search(w):
            # a character with no reading in the tables (瓧) comes back as "?" (pypinyin styles
            # whatever the error handler gives, so it cannot be None) and is read as nothing
            got = lazy_pinyin(w, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: ["?"] * len(s))
            if len(got) != len(w):          # pypinyin merged or split something: read per character
                got = [lazy_pinyin(c, style=Style.TONE3, neutral_tone_with_five=True,
                                   errors=lambda s: ["?"])[0] if HAN_RE.match(c) else None for c in w]
            readings.extend(r if r and HAN_RE.match(c) and _SYLLABLE.fullmatch(r) else None for c, r in zip(w, got))
        else:
            readings.extend([None] * len(w))
    _rules(plain, readings)
    for i, py in overrides.items():
        readings[i] = py
    out = []
    pos = 0
    for w in segs:
        out.append((w, readings[pos:pos + len(w)]))
        pos += len(w)
    return out


def pinyin(text: str) -> list[str]:
    """Tone-number syllables of the Han characters of ``text``, in order."""
    return [r for _, rs in words(text) for r in rs if r]


_SANDHI_ONLY = "一不"        # their tone changes are sandhi, not other readings: engines apply it


@functools.lru_cache(maxsize=4096)
def _default_reading(ch: str) -> tuple[str, bool]:
    """A character's most common reading and whether it has others."""
    from pypinyin import Style, pinyin as _pinyin

    all_ = _pinyin(ch, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]
    return all_[0], len(set(all_)) > 1


def tone_number_text(text: str, everything: bool = False, mark=None) -> str:
    """The text with readings an engine might miss written as tone-number pinyin:
    characters the user marked, and polyphones read other than their most common
    reading (``everything=True``: every Han character). ``我们要重复`` -> ``我们要chong2复``.

    ``mark(char, syllable)`` writes a reading another way (IndexTTS-2.5 takes
    ``<重|CHONG2>``); by default the syllable replaces the character."""
    _setup()
    plain, overrides = _split_marks(text)
    out = []
    i = 0
    for w, rs in words(text):
        for ch, r in zip(w, rs):
            if r is None:
                out.append(ch)
            elif everything or i in overrides:
                out.append(mark(ch, r) if mark else r)
            elif ch in _SANDHI_ONLY:
                out.append(ch)
            else:
                default, poly = _default_reading(ch)
                # a neutral tone on the usual syllable (说得对 de5) needs no mark; another syllable does
                differs = r[:-1] != default[:-1] or (r != default and not r.endswith("5"))
                out.append((mark(ch, r) if mark else r) if poly and differs else ch)
            i += 1
    return "".join(out)
