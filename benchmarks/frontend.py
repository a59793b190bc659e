"""Cost of the text front end per line, measured in one run (no timed assertions anywhere).

    python benchmarks/frontend.py [--repeat 20]

Prints, for the pinyin corpus (tests/data/zh_corpus.tsv) and the benchmark episode's
lines: microseconds per line for speech text (numbers, dates, money), Mandarin readings in
context, tone-number text for engines that read pinyin, and the built-in engine's full
phoneme front end; and that cost as a share of the engine's synthesis time for one line.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def per_line(fn, lines, repeat) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for ln in lines:
            fn(ln)
        times.append((time.perf_counter() - t0) / len(lines))
    return statistics.median(times) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    from benchmarks.dub_run import EN, ZH
    from indextts_dub.text import zh
    from indextts_dub.engines import Request
    from indextts_dub.engines.kokoro import KokoroEngine
    from indextts_dub.text.speech import speech_text

    corpus = [ln.split("\t")[0] for ln in (REPO / "tests" / "data" / "zh_corpus.tsv").read_text(encoding="utf-8")
              .splitlines() if ln and not ln.startswith("#")]
    t0 = time.perf_counter()
    zh.pinyin("预热")            # first call loads jieba and the phrase tables
    load = time.perf_counter() - t0
    engine = KokoroEngine()
    engine.phonemize("预热 warm up")
    print(f"one-time load (jieba + phrase tables): {load * 1000:.0f} ms")
    print(f"{'set':10s} {'lines':>5s} {'speech_text':>12s} {'readings':>10s} {'tone_text':>10s} {'phonemes':>10s}  (us/line)")
    for label, lines, lang in (("corpus", corpus, "zh"), ("episode", ZH, "zh"), ("english", EN, "en")):
        speech = [speech_text(x, lang) for x in lines]
        a = per_line(lambda x: speech_text(x, lang), lines, args.repeat)
        b = per_line(zh.pinyin, speech, args.repeat) if lang == "zh" else 0.0
        c = per_line(zh.tone_number_text, speech, args.repeat) if lang == "zh" else 0.0
        d = per_line(engine.phonemize, speech, max(1, args.repeat // 4))
        print(f"{label:10s} {len(lines):5d} {a:12.0f} {b:10.0f} {c:10.0f} {d:10.0f}")
    line = speech_text(ZH[1], "zh")
    t0 = time.perf_counter()
    engine.synthesize(Request(text=line, voice="jf_alpha", language="zh"))
    synth = time.perf_counter() - t0
    front = (per_line(lambda x: speech_text(x, "zh"), [ZH[1]], args.repeat)
             + per_line(engine.phonemize, [line], args.repeat)) / 1e6
    print(f"front end / synthesis for one line ({ZH[1]}): {front * 1000:.2f} ms / {synth * 1000:.0f} ms "
          f"= {100 * front / synth:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
