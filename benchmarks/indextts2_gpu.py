"""IndexTTS2 engine figures on a machine with a GPU and the checkpoints, measured in one run,
unattended, within a time budget (a few minutes on a rented GPU).

    python benchmarks/indextts2_gpu.py [--checkpoints DIR] [--aux-dir DIR] [--model auto|2|2.5]
        [--precisions auto,fp32] [--processes 1,2] [--device cuda] [--ratios 0.8,0.9,1.1,1.2]
        [--budget 600] [--json FILE|-]

Speaks a bilingual scene (three voices taking turns: the demo's reference clip, its library
voice and a built-in voice spoken as a prompt; every emotion form), once per precision, each in a
process of its own, and prints:

* load time; the real-time factor (engine seconds / audio seconds) per line and for the whole
  episode (the scene through ``synthesize_many``, one voice's lines at a time);
* the conditioning cache's hit rate (lines whose voice conditioning came from memory or disk);
* per line and target ratio, the duration error of exact-length takes (speech after trimming
  edge silence minus the target, in samples at 22.05 kHz and in ms) and the mel renders used;
* the cache effects, as ratios: an exact-length take (GPT stage reused, mel stage only) to a
  natural take; a line whose voice's conditioning is in memory, read from disk, or computed;
* the GPU memory peak (torch.cuda.max_memory_allocated) per precision, and half precision
  (fp16 for IndexTTS-2, bf16 for 2.5: ``auto``) against fp32, as ratios;
* one process against two processes sharing the GPU (index-tts's instance is not thread-safe:
  one process per concurrent job): episode throughput, as a ratio.

Phases that would not fit in ``--budget`` seconds are skipped and listed as skipped. ``--json``
writes every figure as one JSON document. Elsewhere (no torch, no CUDA, no checkpoints) it says
what is missing, prints "nothing was measured" (and ``{"measured": false, ...}`` with ``--json``)
and exits with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
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


def fail(message: str, json_to: str | None = None) -> int:
    print(f"indextts2_gpu: {message}", file=sys.stderr)
    print("indextts2_gpu: this benchmark needs a CUDA GPU, torch, index-tts and the IndexTTS2 checkpoints "
          "(see the README's 'IndexTTS2 engine' section); nothing was measured.", file=sys.stderr)
    emit({"measured": False, "reason": message, "figures": {}}, json_to)
    return 2


def emit(doc: dict, json_to: str | None) -> None:
    if json_to == "-":
        print(json.dumps(doc, indent=1, ensure_ascii=False))
    elif json_to:
        Path(json_to).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def options_of(args) -> dict:
    from indextts_dub import engines

    options = {k: v for k, v in (("checkpoints", args.checkpoints), ("aux_dir", args.aux_dir), ("model", args.model),
                                 ("device", args.device)) if v is not None}
    return engines.resolve_paths("indextts2", options, Path.cwd())


def preflight(args, precisions: list[str]) -> str | None:
    """Why nothing can be measured here, or None."""
    from indextts_dub import engines

    for p in precisions:
        try:
            engines.check("indextts2", dict(options_of(args), precision=p))
        except engines.EngineConfigError as exc:
            return str(exc)
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return "torch sees no CUDA device"
    return None


def worker(args, argv: list[str], precision: str, budget: float, episode_only: bool = False,
           start_at: float | None = None) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--worker", precision, "--budget", f"{budget:.0f}"]
    if episode_only:
        cmd.append("--episode-only")
    if start_at is not None:
        cmd += ["--start-at", f"{start_at:.3f}"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def collect(proc: subprocess.Popen, timeout: float) -> dict | None:
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    for line in out.splitlines():
        if line.startswith("WORKER-JSON "):
            return json.loads(line[len("WORKER-JSON "):])
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints")
    ap.add_argument("--aux-dir")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--precisions", default="auto,fp32", help="auto = fp16 (IndexTTS-2) or bf16 (2.5)")
    ap.add_argument("--processes", default="1,2", help="processes sharing the GPU, compared on the episode")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--ratios", default="0.8,0.9,1.1,1.2", help="targets as fractions of the natural length")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the whole benchmark")
    ap.add_argument("--json", dest="json_to", help="write the figures as JSON to FILE (- for stdout)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--episode-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    t_start = time.monotonic()
    if args.worker:
        import torch

        doc = run(dict(options_of(args), precision=args.worker), [float(r) for r in args.ratios.split(",")], torch,
                  deadline=time.monotonic() + args.budget, episode_only=args.episode_only, start_at=args.start_at)
        print("WORKER-JSON " + json.dumps(doc))
        return 0

    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    processes = sorted({int(n) for n in args.processes.split(",") if n.strip()})
    why = preflight(args, precisions)
    if why is not None:
        return fail(why, args.json_to)
    argv = [a for a in sys.argv[1:]]
    doc: dict = {"measured": True, "budget_s": args.budget, "precisions": {}, "processes": {}, "skipped": []}

    def left() -> float:
        return args.budget - (time.monotonic() - t_start)

    # one process per precision, the budget shared among what is left to do
    phases = len(precisions) + (1 if any(n > 1 for n in processes) else 0)
    for i, p in enumerate(precisions):
        share = left() / max(phases - i, 1)
        if share < 30:
            doc["skipped"].append(f"precision {p}: budget spent")
            continue
        got = collect(worker(args, argv, p, share), share + 60)
        if got is None:
            doc["skipped"].append(f"precision {p}: the worker failed or ran past its budget")
            continue
        doc["precisions"][p] = got
        report(p, got)
    measured = [p for p in precisions if p in doc["precisions"]]
    if len(measured) >= 2:
        a, b = doc["precisions"][measured[0]], doc["precisions"][measured[-1]]
        ratio = a["episode"]["rtf"] / b["episode"]["rtf"] if b["episode"]["rtf"] else float("nan")
        doc["precision_ratio"] = {"of": measured[0], "to": measured[-1], "episode_rtf": ratio}
        print(f"precision: episode real-time factor {measured[0]} / {measured[-1]}: {ratio:.2f}")
    # one process against N sharing the GPU: the episode, throughput in audio seconds per second
    first = measured[0] if measured else None
    if first is not None:
        one = doc["precisions"][first]["episode"]
        doc["processes"]["1"] = {"audio_s_per_s": one["audio_s"] / one["engine_s"]}
        for n in (n for n in processes if n > 1):
            if left() < 60:
                doc["skipped"].append(f"{n} processes: budget spent")
                continue
            start_at = time.time() + 5 + 20 * n           # they load, then start the episode together
            procs = [worker(args, argv, first, left() - 30, episode_only=True, start_at=start_at) for _ in range(n)]
            outs = [collect(pr, left()) for pr in procs]
            if any(o is None for o in outs):
                doc["skipped"].append(f"{n} processes: a worker failed or ran past the budget")
                continue
            wall = max(o["episode"]["end"] for o in outs) - min(o["episode"]["begin"] for o in outs)
            audio_s = sum(o["episode"]["audio_s"] for o in outs)
            doc["processes"][str(n)] = {"audio_s_per_s": audio_s / wall, "wall_s": wall,
                                        "peak_gib": [o.get("gpu_peak_gib") for o in outs]}
            print(f"{n} processes on one GPU: episode throughput {audio_s / wall:.2f} audio s/s, "
                  f"{(audio_s / wall) / doc['processes']['1']['audio_s_per_s']:.2f} x one process")
    for s_ in doc["skipped"]:
        print(f"skipped: {s_}")
    if not doc["precisions"]:
        print("indextts2_gpu: every phase failed or was skipped; nothing was measured.", file=sys.stderr)
        doc["measured"] = False
    emit(doc, args.json_to)
    return 0 if doc["measured"] else 3


def report(precision: str, got: dict) -> None:
    print(f"== precision {precision}: {got['engine']} ({got['model_id']}), ran {got['precision']}")
    print(f"load: {got['load_s']:.1f} s")
    print("natural takes, real-time factor per line: "
          + " ".join(f"{r:.3f}" for r in got["lines"]["rtf"]))
    ep = got["episode"]
    print(f"episode ({len(LINES)} lines through synthesize_many): {ep['audio_s']:.1f} s of audio in "
          f"{ep['engine_s']:.1f} s: real-time factor {ep['rtf']:.3f}")
    print(f"conditioning cache hit rate: {got['conditioning']['hit_rate']:.2f} "
          f"({got['conditioning']['hits']} of {got['conditioning']['lookups']} lookups)")
    if got.get("exact"):
        e = got["exact"]
        print(f"exact length: error median {e['median_samples']:.0f} samples, max {e['max_samples']} samples "
              f"({e['max_ms']:.1f} ms); mel renders per take: mean {e['renders_mean']:.2f}")
    for k, v in got.get("ratios", {}).items():
        print(f"  {k}: {v:.2f}")
    if got.get("gpu_peak_gib") is not None:
        print(f"GPU memory peak: {got['gpu_peak_gib']:.2f} GiB ({got.get('gpu')})")
    for s_ in got.get("skipped", []):
        print(f"  skipped: {s_}")


def run(options: dict, ratios: list[float], torch, deadline: float, episode_only: bool = False,
        start_at: float | None = None) -> dict:
    """One process's figures (see the module docstring), as plain data."""
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
    cuda = torch.cuda.is_available()

    def request(i: int) -> Request:
        voice, lang, text, emo = LINES[i]
        if emo is not None and emo["kind"] == "ref":
            emo = dict(emo, ref=str(demo / "clips" / "mei_excited.wav"), ref_hash=emo_clip.hash)
        return Request(text, f"ref:{voice}", lang, emotion=emo, reference=paths[voice],
                       reference_hash=clips[voice].hash)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    eng = engines.load("indextts2", **options)
    doc: dict = {"engine": eng.info.version, "model_id": eng.info.model_id, "precision": eng.precision,
                 "notes": list(eng.notes), "load_s": time.perf_counter() - t0, "skipped": []}
    sr = eng.info.sample_rate
    eng.text(Request("预热。", "x", "zh"))      # the Chinese front end's dictionaries, outside the timings

    def timed(req: Request):
        sync()
        t = time.perf_counter()
        x = eng.synthesize(req)
        sync()
        return x, time.perf_counter() - t

    def episode() -> dict:
        """The whole scene as a run speaks it: one voice's lines per synthesize_many call."""
        eng._recent.clear()
        eng._gpt.clear()
        groups: dict[str, list[int]] = {}
        for i in range(len(LINES)):
            groups.setdefault(LINES[i][0], []).append(i)
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))
        begin = time.time()
        sync()
        t = time.perf_counter()
        audio_s = 0.0
        for idx in groups.values():
            for x in eng.synthesize_many([request(i) for i in idx]):
                audio_s += x.size / sr
        sync()
        engine_s = time.perf_counter() - t
        return {"audio_s": audio_s, "engine_s": engine_s, "rtf": engine_s / max(audio_s, 1e-9),
                "begin": begin, "end": time.time()}

    if episode_only:
        doc["episode"] = episode()
    else:
        # natural takes one by one, voices alternating: conditioning computed on each voice's first line
        natural, rtf, first_of_voice, later = {}, [], [], []
        seen: set[str] = set()
        for i in range(len(LINES)):
            x, s = timed(request(i))
            natural[i] = audio.trim_silence(x, sr).size
            rtf.append(s / max(x.size / sr, 1e-9))
            (later if LINES[i][0] in seen else first_of_voice).append(rtf[-1])
            seen.add(LINES[i][0])
        doc["lines"] = {"rtf": rtf, "texts": [t for _, _, t, _ in LINES]}
        doc["episode"] = episode()
        unit = doc["episode"]["engine_s"]
        # exact-length takes: duration error per line and target
        if time.monotonic() + unit * len(ratios) * 1.5 < deadline:
            errors, exact_rtf, renders_all, rows = [], [], [], []
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
                    rows.append({"line": i + 1, "ratio": r, "target": target, "got": got, "renders": renders, "s": s})
            doc["exact"] = {"rows": rows, "median_samples": statistics.median(errors), "max_samples": max(errors),
                            "max_ms": 1000 * max(errors) / sr, "renders_mean": statistics.mean(renders_all)}
            nat_mean = statistics.mean(later) if later else float("nan")
            doc["ratios"] = {"exact-length take (GPT reused, mel stage only) / natural, per audio second":
                             statistics.mean(exact_rtf) / nat_mean,
                             "first line of a voice / later lines, real-time factor":
                             statistics.mean(first_of_voice) / nat_mean}
        else:
            doc["skipped"].append("exact-length takes: budget")
        # conditioning: in memory / from disk / computed, on the same line
        if time.monotonic() + 3 * unit / len(LINES) * 2 < deadline:
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
            doc.setdefault("ratios", {}).update({
                "line with conditioning from disk / in memory": t_disk / t_mem,
                "line with conditioning computed (index-tts's own cache when voices alternate) / in memory":
                    t_comp / t_mem})
        else:
            doc["skipped"].append("conditioning ratios: budget")
    st = eng.stats
    hits = st["conditioning_from_memory"] + st["conditioning_from_disk"]
    lookups = hits + st["conditioning_computed"]
    doc["conditioning"] = {"hits": hits, "lookups": lookups, "hit_rate": hits / lookups if lookups else float("nan")}
    if cuda:
        doc["gpu_peak_gib"] = torch.cuda.max_memory_allocated() / 1024 ** 3
        doc["gpu"] = torch.cuda.get_device_name()
    doc["stats"] = dict(st)
    return doc


if __name__ == "__main__":
    sys.exit(main())
