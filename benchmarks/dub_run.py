"""Whole-run figures of the built-in engine, measured in one run (no timed assertions anywhere).

    python benchmarks/dub_run.py            # the demo and a generated 100-line episode
    python benchmarks/dub_run.py --lines 30 # a shorter generated episode

Prints, per input: real-time factor of the whole run (wall seconds / programme seconds) beside
the engine's own (its synthesis seconds / programme seconds) and their ratio (target <= 1.1),
share of wall time spent outside the engine's synthesis calls, synthesis passes per line (mean
and most on one line; targets <= 1.3 and 2), the wall time of each stage (plan.json's summary),
and the distribution of residual stretch (after the engine's own speed).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EN = [
    "Good morning, everyone.", "Let's get started with today's agenda.", "Did you read the report I sent yesterday?",
    "We need to finish this before Friday.", "I don't think that's a good idea.", "Where did you put the keys?",
    "The train leaves at seven thirty.", "Could you say that again, please?", "I have never seen anything like it.",
    "That was the best meal I've had all year.", "Stop right there!", "Thank you.", "Why not?",
    "Honestly, I expected much more from this meeting.", "Keep your voice down, they're listening.",
]
ZH = [
    "早上好，大家准备好了吗？", "我们今天要重复昨天的实验。", "这个数字是3.5，不是35。", "你把钥匙放在哪儿了？",
    "火车七点半出发。", "请再说一遍好吗？", "我从来没见过这样的东西。", "这是我今年吃过最好的一顿饭。",
    "站住！", "谢谢。", "为什么不呢？", "说实话，我对这次会议期望更高。", "小声点，他们在听。",
    "这个 deadline 很重要，别忘了。", "银行下午五点关门。",
]


def ms_to_srt(ms: int) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def generate_episode(folder: Path, lines: int, seed: int = 7) -> tuple[Path, Path]:
    """A deterministic episode: three characters, English and Mandarin, slots from loose to tight."""
    rng = random.Random(seed)
    who = [("Alice", EN), ("Bob", EN), ("小美", ZH)]
    t = 1000
    blocks = []
    used: set[str] = set()
    for i in range(1, lines + 1):
        name, corpus = rng.choice(who)
        text = rng.choice(corpus)
        while text in used:            # every line different, as in a real script: no free repeats
            text = f"{rng.choice(corpus)} {rng.choice(corpus)}".replace("。 ", "。").replace("？ ", "？")
        used.add(text)
        # roughly 65 ms per character of English, 220 ms per Han character, scaled 0.6-1.3
        base = len(text) * (65 if corpus is EN else 220)
        dur = max(600, int(base * rng.uniform(0.6, 1.3)))
        blocks.append(f"{i}\n{ms_to_srt(t)} --> {ms_to_srt(t + dur)}\n{name}: {text}\n")
        t += dur + rng.choice([100, 200, 300, 500, 800, 1500])
    srt = folder / "episode.srt"
    srt.write_text("\n".join(blocks), encoding="utf-8")
    cast = folder / "cast.yaml"
    cast.write_text("characters:\n  Alice: kokoro:jf_alpha\n  Bob: kokoro:jm_kumo\n  小美: kokoro:jf_nezumi\n",
                    encoding="utf-8")
    return srt, cast


def measure(label: str, srt: Path, cast: Path, video: Path | None, out: Path) -> dict:
    from indextts_dub.pipeline import dub
    from indextts_dub.timebase import SAMPLE_RATE

    t0 = time.perf_counter()
    res = dub(srt, cast=cast, video=video, out=out)
    wall = time.perf_counter() - t0
    programme_s = res.facts.programme / SAMPLE_RATE
    residuals = sorted(c.residual for c in res.clips)
    fig = {
        "label": label,
        "lines": len(res.clips),
        "programme_s": programme_s,
        "wall_s": wall,
        "rtf": wall / programme_s,
        "speech_s": sum(c.speech_samples for c in res.clips) / SAMPLE_RATE,
        "outside_engine": (wall - res.facts.engine_seconds) / wall,
        "engine_rtf": res.facts.engine_seconds / programme_s,
        "passes_per_line": res.facts.synthesis_calls / len(res.clips),
        "max_passes": max(c.passes for c in res.clips),
        "stages": json.loads((out / "plan.json").read_text(encoding="utf-8"))["summary"]["stage_seconds"],
        "residual": residuals,
    }
    return fig


def report(fig: dict) -> str:
    r = fig["residual"]
    q = statistics.quantiles(r, n=10) if len(r) >= 2 else r * 9
    stretched = [x for x in r if abs(x - 1) > 1e-6]
    return "\n".join([
        f"== {fig['label']}: {fig['lines']} lines, programme {fig['programme_s']:.1f} s, speech {fig['speech_s']:.1f} s",
        f"   real-time factor (wall / programme)      {fig['rtf']:.3f}   ({fig['wall_s']:.1f} s wall)",
        f"   engine's own real-time factor            {fig['engine_rtf']:.3f}   "
        f"(whole run / engine: {fig['rtf'] / max(fig['engine_rtf'], 1e-9):.2f}x)",
        f"   wall time outside engine synthesis       {100 * fig['outside_engine']:.1f} %",
        f"   synthesis passes per line                {fig['passes_per_line']:.2f} mean, {fig['max_passes']} at most",
        "   stage wall time                          "
        + ", ".join(f"{k} {v:.1f} s" for k, v in fig["stages"].items()),
        f"   residual stretch: none on {len(r) - len(stretched)} of {len(r)} lines; "
        f"median {statistics.median(r):.3f}, p90 {q[8]:.3f}, max {max(r):.3f}; "
        f"over 5 %: {sum(1 for x in r if x > 1.05)}; over 10 %: {sum(1 for x in r if x > 1.10)}",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100, help="lines in the generated episode (default 100)")
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    demo = REPO / "samples" / "demo"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        figs = []
        if not args.skip_demo:
            figs.append(measure("demo (samples/demo, with video mux)", demo / "episode.srt", demo / "cast.yaml",
                                demo / "clip.mp4", tmp / "demo"))
            print(report(figs[-1]), flush=True)
        srt, cast = generate_episode(tmp, args.lines)
        figs.append(measure(f"generated {args.lines}-line episode", srt, cast, None, tmp / "gen"))
        print(report(figs[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
