"""The whole-episode plan against per-line fitting, measured in one run (no timed assertions anywhere).

    python benchmarks/plan_bench.py                 # demo + Sintel with the real Kokoro engine, + a 2 000-line film
    python benchmarks/plan_bench.py --engine toy    # the tests' toy engine instead of Kokoro (fast, not speech)

For each input and each planner (``episode``: indextts_dub.plan; ``per-line``: the baseline
in indextts_dub.plan_per_line) it prints:

* share of lines whose residual stretch (after the engine's own speed) is over 5 %: every
  line is spoken at natural speed once, then each plan is realized with
  ``Synthesizer.at_target`` exactly as a run does (takes are memoised, so the two planners
  share what they can);
* median and max speed jump between consecutive lines of one character (speed = the tempo
  heard, natural length / final length);
* lines past the 1.25x bound, overruns the plan reports (count, ms), and overlaps with another
  character's line that the subtitles did not have (per-line fitting makes them silently);
* planning CPU time per 1 000 lines (median of repeated runs; the synthetic film shows it at scale);
* a dry run at scale: a 10 000-cue subtitle file whose speaker prefixes name 2 000 characters
  (``--scale-cues``, ``--scale-characters``), as ``indextts-dub dub --dry-run`` runs it (reading,
  casting, planning), its wall time against the same cues with no names in the same process,
  and the process's peak memory.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

SINTEL_CAST = REPO / "tests" / "data" / "realworld" / "sintel_cast.yaml"


def sintel_srt() -> Path:
    shared = REPO.parent / "shared" / "realworld" / "subtitles" / "sintel_en.srt"
    return shared if shared.exists() else REPO / "tests" / "data" / "realworld" / "sintel_en.srt"


def load(srt: Path, cast_file: Path, engine_name: str | None, video: Path | None):
    """The cast lines as a run reads them (reference and library voices resolved too)."""
    from indextts_dub import engines
    from indextts_dub.lines import read_cast_file
    from indextts_dub.pipeline import read_inputs

    if engine_name == "toy":        # the toy engine's voices, in a copy of the cast
        import yaml

        the_cast = read_cast_file(cast_file)
        doc = {"engine": "toy", "default_voice": "toy:low",
               "characters": {k: "toy:" + ("low" if i % 2 else "high") for i, k in enumerate(the_cast.characters)}}
        cast_file = Path(tempfile.mkdtemp()) / "cast.yaml"
        cast_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    inp = read_inputs(srt, cast_file, video, engine=engine_name)
    return inp.cast_lines.lines, inp.engine, engines.load(inp.engine_name, **inp.engine_options), inp.programme_end


def plan_cpu(fn, *args, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn(*args)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def figures(p, lines, residual: dict[int, float] | None) -> dict:
    by = {ln.index: ln for ln in lines}
    per: dict[str, list] = {}
    for e in sorted(p.entries, key=lambda e: e.start):
        per.setdefault(by[e.index].character, []).append(e.speed)
    jumps = [abs(b - a) for g in per.values() for a, b in zip(g, g[1:])]
    es = sorted(p.entries, key=lambda e: e.start)
    new_overlaps = 0
    for i, a in enumerate(es):
        for b in es[i + 1:]:
            if b.start >= a.speech_end:
                break
            la, lb = by[a.index], by[b.index]
            if la.character != lb.character and not (lb.cue.start < la.cue.end and la.cue.start < lb.cue.end):
                new_overlaps += 1
    return {
        "stretch5": (sum(1 for e in p.entries if abs(residual[e.index] - 1) > 0.05) / len(p.entries)
                     if residual else None),
        "jump_median": statistics.median(jumps) if jumps else 0.0,
        "jump_max": max(jumps, default=0.0),
        "past_bound": sum(1 for e in p.entries if e.speed > e.bounds[1] + 1e-4),
        "overruns": sum(1 for e in p.entries if e.overrun > 0),
        "overrun_ms": sum(e.overrun for e in p.entries) / 48,
        "new_overlaps": new_overlaps,
        "speed_max": max(e.speed for e in p.entries),
    }


def realize(p, lines, synth, naturals, speed_range) -> dict[int, float]:
    by = {ln.index: ln for ln in lines}
    out = {}
    for e in p.entries:
        take = naturals[e.index]
        if abs(e.speed - 1) > 1e-6:
            take = synth.at_target(by[e.index], take, e.speed, e.speech_samples, speed_range)
        out[e.index] = take.samples / e.speech_samples if e.speech_samples else 1.0
    return out


def row(label: str, f: dict, cpu_per_line: float) -> str:
    s5 = f"{100 * f['stretch5']:5.1f} %" if f["stretch5"] is not None else "    n/a"
    return (f"  {label:10s} {s5}   {f['jump_median']:.3f} / {f['jump_max']:.3f}   {f['past_bound']:4d}   "
            f"{f['overruns']:3d} ({f['overrun_ms']:6.0f} ms)   {f['new_overlaps']:4d}     {f['speed_max']:.2f}   "
            f"{1e6 * cpu_per_line:8.1f} ms")


HEADER = ("  planner    stretch>5%  jump median/max  >1.25x  overruns (ms)     new overlaps  max speed  "
          "plan CPU / 1000 lines")


def bench_input(label, lines, info, engine, programme) -> None:
    from indextts_dub.plan import plan, plan_per_line
    from indextts_dub.takes import Synthesizer

    synth = Synthesizer(info, lambda: engine)
    t0 = time.perf_counter()
    naturals = {ln.index: synth.natural(ln) for ln in lines}
    nat = {k: t.samples for k, t in naturals.items()}
    print(f"== {label}: {len(lines)} lines, {len({ln.character for ln in lines})} characters "
          f"(natural takes {time.perf_counter() - t0:.1f} s)", flush=True)
    print(HEADER)
    for name, fn in (("episode", plan), ("per-line", plan_per_line)):
        p = fn(lines, nat, programme)
        cpu = plan_cpu(fn, lines, nat, programme) / len(lines)
        residual = realize(p, lines, synth, naturals, info.speed_range)
        print(row(name, figures(p, lines, residual), cpu), flush=True)
    print(f"  (engine calls in all: {synth.calls}, engine time {synth.engine_seconds:.1f} s)")


def synthetic_film(n: int, seed: int = 11):
    from indextts_dub.lines import Line
    from indextts_dub.cues import Cue

    rng = random.Random(seed)
    lines, nat, t = [], {}, 2.0
    chars = ["Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus"]
    for i in range(1, n + 1):
        dur = rng.uniform(0.6, 5.5)
        cue = Cue(i, str(i), int(t * 48000), int((t + dur) * 48000), "x", file="film.srt", line=4 * i)
        lines.append(Line(i, cue, rng.choice(chars), "v", "en", "x", "x"))
        nat[i] = int(dur * rng.uniform(0.5, 1.5) * 48000)
        t += dur + rng.choice([0.0, 0.04, 0.1, 0.2, 0.4, 1.0, 3.0])
    return lines, nat, int((t + 1) * 48000)


def scale_srt(path: Path, cues: int, characters: int, seed: int = 5) -> Path:
    """A film's subtitles: ``cues`` cues, ``Name: text`` prefixes naming ``characters`` speakers
    (0: none), gaps as real films have them and about 5 % of cues overlapping the previous one."""
    rng = random.Random(seed)

    def ts(ms: int) -> str:
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    def name(k: int) -> str:           # pronounceable, no digits: "Rekode", "Sisofi"
        return "".join("bdfgklmnprstvz"[(k // 14 ** p) % 14] + "aeiou"[(k // 14 ** p) % 5] for p in range(4)).capitalize()

    out, t = [], 2000
    for i in range(1, cues + 1):
        d = rng.randint(600, 4000)
        who = f"{name(rng.randrange(characters))}: " if characters else ""
        out.append(f"{i}\n{ts(t)} --> {ts(t + d)}\n{who}Line number {i} is said here.\n")
        t += d + rng.choice([0, 40, 100, 200, 400, 1000, 3000]) - (300 if rng.random() < 0.05 else 0)
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def bench_scale(cues: int, characters: int, voice: str) -> None:
    import resource

    from indextts_dub.pipeline import dry_run

    folder = Path(tempfile.mkdtemp())
    plain = scale_srt(folder / "plain.srt", cues, 0)
    named = scale_srt(folder / "named.srt", cues, characters)
    print(f"== dry run at scale: {cues} cues, no names, then {characters} characters (reading, casting, planning)")
    times = {}
    for label, srt in (("no names", plain), ("names", named)):
        t0, c0 = time.perf_counter(), time.process_time()
        result = dry_run(srt, out=folder / "out", voice=voice, engine=voice.split(":")[0], cache=False)
        times[label] = time.perf_counter() - t0
        cpu = time.process_time() - c0        # the figure a busy machine does not inflate much
        chars = len({d.character for d in result.decisions})
        print(f"  {label:9s} {len(result.decisions):6d} lines  {chars:5d} characters  {times[label]:6.2f} s wall"
              f"  {cpu:6.2f} s CPU", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  names / no names: {times['names'] / times['no names']:.2f}x; peak memory of the process {peak:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("kokoro", "toy"), default="kokoro")
    ap.add_argument("--film-lines", type=int, default=2000)
    ap.add_argument("--scale-cues", type=int, default=10000)
    ap.add_argument("--scale-characters", type=int, default=2000)
    ap.add_argument("--only-scale", action="store_true", help="only the dry run at scale")
    args = ap.parse_args()
    if args.engine == "toy":         # the tests' engine distribution, installed as pip would leave it
        from support import engine_dist

        sys.path.insert(0, str(engine_dist.install(Path(tempfile.mkdtemp()) / "site")))
    demo = REPO / "samples" / "demo"
    engine = None if args.engine == "kokoro" else "toy"
    if args.only_scale:
        bench_scale(args.scale_cues, args.scale_characters, "kokoro:jf_alpha" if engine is None else "toy:low")
        return 0
    bench_input("demo (samples/demo)", *load(demo / "episode.srt", demo / "cast.yaml", engine, demo / "clip.mp4"))
    bench_input("Sintel (sintel_en.srt, 2 characters)", *load(sintel_srt(), SINTEL_CAST, engine, None))

    from indextts_dub.plan import plan, plan_per_line

    lines, nat, programme = synthetic_film(args.film_lines)
    print(f"== synthetic film: {len(lines)} lines, 7 characters, planning only (no engine)")
    print(HEADER)
    for name, fn in (("episode", plan), ("per-line", plan_per_line)):
        p = fn(lines, nat, programme)
        cpu = plan_cpu(fn, lines, nat, programme, repeat=3) / len(lines)
        print(row(name, figures(p, lines, None), cpu), flush=True)
    # like for like with per-line fitting, which runs lines into other characters' lines
    p = plan(lines, nat, programme, allow_cross_overlap=True)
    cpu = plan_cpu(lambda: plan(lines, nat, programme, allow_cross_overlap=True), repeat=3) / len(lines)
    print(row("episode+x", figures(p, lines, None), cpu) + "   (episode with --allow-cross-overlap)", flush=True)
    bench_scale(args.scale_cues, args.scale_characters, "kokoro:jf_alpha" if engine is None else "toy:low")
    return 0


if __name__ == "__main__":
    sys.exit(main())
