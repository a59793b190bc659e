"""IndexTTS2 engine figures on a machine with a GPU and the checkpoints, measured in one run.

    python benchmarks/indextts2_gpu.py [--checkpoints DIR] [--aux-dir DIR] [--model auto|2|2.5]
                                       [--precision auto|fp32|fp16|bf16] [--device cuda] [--ratios 0.8,0.9,1.1,1.2]

Speaks a bilingual scene (three voices taking turns: the demo's reference clip, its library
voice and a built-in voice spoken as a prompt; every emotion form) and prints:

* load time, and the real-time factor of natural takes (engine seconds / audio seconds);
* the GPU memory peak (torch.cuda.max_memory_allocated);
* per line and target ratio, the duration error of exact-length takes (speech after trimming
  edge silence minus the target, in samples at 22.05 kHz and in ms) and the mel renders used;
* the cache effects, as ratios: an exact-length take (GPT stage reused, mel stage only) to a
  natural take; a line whose voice's conditioning is in memory, read from disk, or computed
  (what index-tts's own path-keyed cache does whenever characters alternate).

Elsewhere (no torch, no CUDA, no checkpoints) it says what is missing and exits with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LINES = [  # (voice, language, text, emotion as Emotion.request() gives it)
    ("mei", "en", "Good morning, everyone. Let's begin the rehearsal.", None),
    ("wang", "zh", "早上好！今天我们要重复昨天的实验。", {"kind": "text", "text": "严厉且带有压迫感地命令", "alpha": 0.8}),
    ("alpha", "en", "The sample weighs three and a half kilograms, right?",
     {"kind": "vector", "vector": [0, 0, 0, 0, 0, 0, 0.5, 0.2], "vector_written": [0, 0, 0, 0, 0, 0, 0.5, 0.2],
      "alpha": 1.0}),
    ("mei", "zh", "我明白了，我们马上开始准备仪器和材料。", {"kind": "ref", "alpha": 0.6}),
    ("wang", "zh", "对，重量是三点五公斤。这个 deadline 很重要。", None),
    ("alpha", "en", "Perfect. See you at three in the afternoon.",
     {"kind": "preset", "vector": [0, 0, 0, 0, 0, 0, 0.7, 0], "vector_written": [0, 0, 0, 0, 0, 0, 0.7, 0],
      "alpha": 1.0}),
    ("mei", "en", "Ready when you are.", None),
    ("wang", "zh", "下午三点见，别迟到。", None),
]


def fail(message: str) -> int:
    print(f"indextts2_gpu: {message}", file=sys.stderr)
    print("indextts2_gpu: this benchmark needs a CUDA GPU, torch, index-tts and the IndexTTS2 checkpoints "
          "(see the README's 'IndexTTS2 engine' section); nothing was measured.", file=sys.stderr)
    return 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints")
    ap.add_argument("--aux-dir")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--ratios", default="0.8,0.9,1.1,1.2", help="targets as fractions of the natural length")
    args = ap.parse_args()

    from indextts_dub import engines

    options = {k: v for k, v in (("checkpoints", args.checkpoints), ("aux_dir", args.aux_dir), ("model", args.model),
                                 ("precision", args.precision), ("device", args.device)) if v is not None}
    options = engines.resolve_paths("indextts2", options, Path.cwd())
    try:
        engines.check("indextts2", options)
    except engines.EngineConfigError as exc:
        return fail(str(exc))
    if importlib.util.find_spec("torch") is None:
        return fail("torch is not installed")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return fail("torch sees no CUDA device")
    return run(options, [float(r) for r in args.ratios.split(",")], torch)


def run(options: dict, ratios: list[float], torch) -> int:
    from indextts_dub import audio, engines
    from indextts_dub.voices import prompts
    from indextts_dub.engines import refclip
    from indextts_dub.engines import Request
    from indextts_dub.voices.library import Library
    demo = ROOT / "samples" / "demo"
    tmp = Path(tempfile.mkdtemp(prefix="indextts2-bench-"))
    options = dict(options, conditioning_cache=str(tmp / "conditioning.sqlite"))
    clips = {"mei": refclip.read_clip(demo / "voices" / "mei.wav"),
             "alpha": prompts.prompt_clip("kokoro", "jf_alpha")}
    with Library(demo / "voices.sqlite") as lib:
        clips["wang"] = lib.clip(lib.get("wang").clip_hash)
    paths = {k: str(refclip.clip_file(c)) for k, c in clips.items()}
    emo_clip = refclip.read_clip(demo / "clips" / "mei_excited.wav", refclip.EMOTION_SECONDS)

    def request(i: int) -> Request:
        voice, lang, text, emo = LINES[i]
        if emo is not None and emo["kind"] == "ref":
            emo = dict(emo, ref=str(demo / "clips" / "mei_excited.wav"), ref_hash=emo_clip.hash)
        return Request(text, f"ref:{voice}", lang, emotion=emo, reference=paths[voice],
                       reference_hash=clips[voice].hash)

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    eng = engines.load("indextts2", **options)
    load_s = time.perf_counter() - t0
    sr = eng.info.sample_rate
    print(f"engine: {eng.info.version} ({eng.info.model_id}); {eng.notes[0]}")
    print(f"load: {load_s:.1f} s")

    def timed(req: Request):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        x = eng.synthesize(req)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return x, time.perf_counter() - t

    eng.text(Request("预热。", "x", "zh"))      # the Chinese front end's dictionaries, outside the timings
    # natural takes, voices alternating: conditioning computed on each voice's first line
    natural, nat_time, first_line_of_voice, later_lines = {}, 0.0, [], []
    seen: set[str] = set()
    audio_s = 0.0
    for i in range(len(LINES)):
        x, s = timed(request(i))
        natural[i] = audio.trim_silence(x, sr).size
        nat_time += s
        audio_s += x.size / sr
        (later_lines if LINES[i][0] in seen else first_line_of_voice).append(s / max(x.size / sr, 1e-9))
        seen.add(LINES[i][0])
    print(f"natural takes: {len(LINES)} lines, {audio_s:.1f} s of audio in {nat_time:.1f} s: "
          f"real-time factor {nat_time / audio_s:.3f}")

    # exact-length takes: duration error per line and target
    print("exact length (speech after trimming vs target, 22.05 kHz samples):")
    print(f"  {'line':>4} {'ratio':>5} {'target':>7} {'got':>7} {'error':>6} {'ms':>6} {'renders':>7} {'s':>6}")
    errors, exact_rtf, renders_all = [], [], []
    for i in range(len(LINES)):
        for r in ratios:
            target = int(round(natural[i] * r))
            before = eng.stats["mel_renders"]
            x, s = timed(dataclasses.replace(request(i), target_samples=target))
            got = audio.trim_silence(x, sr).size
            renders = eng.stats["mel_renders"] - before
            errors.append(abs(got - target))
            renders_all.append(renders)
            exact_rtf.append(s / max(x.size / sr, 1e-9))
            print(f"  {i + 1:>4} {r:>5.2f} {target:>7} {got:>7} {got - target:>+6} {1000 * (got - target) / sr:>+6.1f} "
                  f"{renders:>7} {s:>6.2f}")
    print(f"  duration error: median {statistics.median(errors):.0f} samples, max {max(errors)} samples "
          f"({1000 * max(errors) / sr:.1f} ms); mel renders per take: mean {statistics.mean(renders_all):.2f}")

    # conditioning: in memory / from disk / computed, on the same line
    probe = request(0)

    def line_time(setup) -> float:
        eng._recent.clear()        # the whole line again: GPT and mel stage, only the conditioning differs
        eng._gpt.clear()
        setup()
        return timed(probe)[1]

    def forget_memory():
        eng._cond.clear()

    def forget_all():
        eng._cond.clear()
        eng.store.cache = tmp / f"empty-{time.monotonic_ns()}.sqlite"
        eng.store.library = None

    t_mem = line_time(lambda: None)
    t_disk = line_time(forget_memory)
    t_comp = line_time(forget_all)
    nat_mean = statistics.mean(later_lines) if later_lines else float("nan")
    print("cache effect (one run, ratios):")
    print(f"  exact-length take (GPT reused, mel stage only) / natural take, per audio second: "
          f"{statistics.mean(exact_rtf) / nat_mean:.2f}")
    print(f"  line with conditioning from disk / in memory: {t_disk / t_mem:.2f}")
    print(f"  line with conditioning computed (index-tts's own cache when voices alternate) / in memory: "
          f"{t_comp / t_mem:.2f}")
    print(f"  first line of a voice / later lines, real-time factor: "
          f"{statistics.mean(first_line_of_voice) / nat_mean:.2f}")
    if torch.cuda.is_available():
        print(f"GPU memory peak: {torch.cuda.max_memory_allocated() / 1024 ** 3:.2f} GiB "
              f"({torch.cuda.get_device_name()})")
    print(f"engine counters: {eng.stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
