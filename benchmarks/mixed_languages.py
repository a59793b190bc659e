"""Do the built-in voices say the other language's words in a mixed line? Whisper base decides.

    pip install 'indextts-dub[qa]'
    python benchmarks/mixed_languages.py [--voices zf_xiaobei,zm_yunjian,...]

A mixed line stays in one voice: the built-in engine speaks its Han runs with Mandarin phonemes
and its Latin runs with English ones, in the line's voice. This speaks a handful of Mandarin
lines with English words in every Mandarin voice, and English lines with Mandarin words (the
character's language set to English) in the English default voices and a few others, at natural
speed, and hears each take as ``--qa`` does (Whisper base int8, told the line's language; a line
with Han characters is Mandarin unless its character is English). Prints per voice, all
measured in this one run:

- the ``--qa`` error rate pooled over the lines (toneless-pinyin syllables and Latin words);
- the embedded words heard: for Mandarin lines, the share of the English words found among the
  words Whisper wrote; for English lines, the share of the Mandarin words whose toneless pinyin
  (``wangfujing``) is found, letters only and fuzzily (rapidfuzz partial ratio >= 80), in what
  Whisper wrote (it spells a Chinese name in an English sentence in Latin letters).

Nothing downloads; the voices are the ones shipped with the package.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MANDARIN_WITH_ENGLISH = [
    "这个 deadline 很重要。", "我们下午开个 meeting 吧。", "请把 report 发给我。", "我的 iPhone 没电了。",
    "明天的 presentation 准备好了吗？", "他在 Google 工作。", "这个 project 下周开始。", "我们用 Python 写代码。",
]
ENGLISH_WITH_MANDARIN = [
    "We had dinner at 王府井 last night.", "Professor 王 will give the lecture.", "Let's take the train to 上海 tomorrow.",
    "My friend 小明 lives in 北京.", "The tea from 杭州 is famous.", "I ordered 饺子 for everyone.",
]
ZH_VOICES = ["zf_xiaobei", "zm_yunjian", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunxi", "zm_yunxia", "zm_yunyang"]
EN_VOICES = ["af_heart", "am_michael", "bf_emma", "bm_fable", "af_bella", "am_fenrir"]


def embedded_heard(text: str, heard: str, language: str) -> tuple[int, int]:
    """(embedded words found, embedded words) of a mixed line in what was heard."""
    from pypinyin import Style, lazy_pinyin
    from rapidfuzz import fuzz

    from indextts_dub.qa.score import _simplify

    if language == "zh":
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", text)]
        got = set(w.lower() for w in re.findall(r"[A-Za-z]+", heard))
        return sum(w in got for w in words), len(words)
    runs = re.findall(r"[\u4e00-\u9fff]+", text)
    letters = re.sub(r"[^a-z]", "", "".join(lazy_pinyin(_simplify()(heard), style=Style.NORMAL)).lower())
    found = 0
    for run in runs:
        target = "".join(lazy_pinyin(run, style=Style.NORMAL))
        found += fuzz.partial_ratio(target, letters) >= 80
    return found, len(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", help="comma-separated voice ids (default: 8 Mandarin, 6 English)")
    args = ap.parse_args()
    from indextts_dub import audio
    from indextts_dub.engines import Request
    from indextts_dub.engines.kokoro import SAMPLE_RATE, KokoroEngine
    from indextts_dub.qa import hearing
    from indextts_dub.qa.score import error_rate, tokens
    from indextts_dub.text.speech import speech_text

    voices = args.voices.split(",") if args.voices else ZH_VOICES + EN_VOICES
    engine = KokoroEngine()
    model = hearing.load()
    rows = []
    synth_s = hear_s = 0.0
    for voice in voices:
        language = "zh" if voice.startswith("z") else "en"
        lines = MANDARIN_WITH_ENGLISH if language == "zh" else ENGLISH_WITH_MANDARIN
        texts = [speech_text(t, language) for t in lines]
        t0 = time.perf_counter()
        takes = [engine.synthesize(Request(text=t, voice=voice, language=language)) for t in texts]
        synth_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        heard = [h.text for h in model.hear([(audio.resample(x, SAMPLE_RATE, hearing.SAMPLE_RATE), language)
                                             for x in takes])]
        hear_s += time.perf_counter() - t0
        errors = units = found = total = 0
        worst = (0.0, "", "")
        for text, h in zip(texts, heard):
            n = len(tokens(text, language))
            rate = error_rate(text, h, language)
            errors += rate * n
            units += n
            f, t = embedded_heard(text, h, language)
            found, total = found + f, total + t
            worst = max(worst, (rate, text, h))
        rows.append((voice, language, errors / units, found / total if total else None, worst))
    print(f"\n{'voice':14s}{'lines':>8s}{'--qa error':>12s}{'other-language words heard':>30s}")
    for voice, language, rate, share, _ in rows:
        kind = "zh + English words" if language == "zh" else "en + Mandarin words"
        print(f"{voice:14s}{kind:>20s}{rate:>10.1%}{share:>22.0%}")
    for voice, _, _, _, (rate, text, h) in rows:
        if rate > 0.25:
            print(f"  worst, {voice}: {rate:.0%} {text!r} heard as {h!r}")
    print(f"\nhearing / synthesis time: {hear_s / synth_s:.2f}x ({hear_s:.1f} s / {synth_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
