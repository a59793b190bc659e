"""Re-run costs with the take cache, measured in one run (the built-in engine, a 100-line episode).

    python benchmarks/incremental_bench.py [--lines 100]

Prints wall times of: the full first run; a re-run after editing one line's text; a
re-run with nothing changed; a re-run after moving one cue; each as a ratio to the full run,
with the engine calls each made (targets: nothing changed <= 1 %, one line edited <= 2 %, one
cue moved <= 1 %). Then (unless --skip-demo) the demo is dubbed once and its ``--dry-run`` timed
in a fresh process beside ``python -c "import numpy"`` as the unit (target: under 1.5 s on an
idle machine), best of three each.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dub_run import generate_episode  # noqa: E402


def timed(srt: Path, cast: Path, out: Path) -> tuple[float, int, str]:
    """Wall seconds, engine calls, and passes per line / share outside synthesis / stage times."""
    from indextts_dub.pipeline import dub

    t0 = time.perf_counter()
    res = dub(srt, cast=cast, out=out)
    wall = time.perf_counter() - t0
    f = res.facts
    stages = ", ".join(f"{k} {v:.2f}" for k, v in (f.stage_seconds or {}).items())
    detail = (f"passes/line {f.synthesis_calls / len(res.clips):.2f} (max {max(c.passes for c in res.clips)}), "
              f"outside synthesis {100 * (wall - f.engine_seconds) / wall:.1f} %; stages (s): {stages}")
    return wall, f.synthesis_calls, detail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--skip-demo", action="store_true", help="do not time the demo's --dry-run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srt, cast = generate_episode(tmp, args.lines)
        out = tmp / "out"
        rows = [("full run", *timed(srt, cast, out))]
        full = rows[0][1]
        text = srt.read_text(encoding="utf-8")
        blocks = text.split("\n\n")
        middle = len(blocks) // 2
        spoken = blocks[middle].split("\n", 2)           # number, timing, text
        spoken[2] = spoken[2].rstrip() + " Indeed."
        blocks[middle] = "\n".join(spoken)
        srt.write_text("\n\n".join(blocks), encoding="utf-8")
        rows.append(("edit one line", *timed(srt, cast, out)))
        rows.append(("nothing changed", *timed(srt, cast, out)))
        # move one cue 120 ms later (same length)
        moved = (middle + 1) % len(blocks)
        timing = blocks[moved].split("\n")
        a, b = timing[1].split(" --> ")

        def later(ts: str) -> str:
            h, m, rest = ts.split(":")
            s, ms = rest.split(",")
            total = ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms) + 120
            return f"{total // 3600000:02d}:{total // 60000 % 60:02d}:{total // 1000 % 60:02d},{total % 1000:03d}"
        timing[1] = f"{later(a)} --> {later(b)}"
        blocks[moved] = "\n".join(timing)
        srt.write_text("\n\n".join(blocks), encoding="utf-8")
        rows.append(("move one cue", *timed(srt, cast, out)))
    print(f"{args.lines}-line generated episode, built-in engine, take cache in the output folder")
    for name, secs, calls, detail in rows:
        print(f"  {name:16s} {secs:7.2f} s   ratio to full run {secs / full:6.3f}   engine calls {calls}")
        print(f"  {'':16s} {detail}")
    if not args.skip_demo:
        dry_run_of_demo()
    return 0


def best_of(cmd: list[str], n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - t0)
    return min(times)


def dry_run_of_demo() -> None:
    from indextts_dub.pipeline import dub

    demo = REPO / "samples" / "demo"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        dub(demo / "episode.srt", cast=demo / "cast.yaml", video=demo / "clip.mp4", out=out)
        unit = best_of([sys.executable, "-c", "import numpy"])
        dry = best_of([sys.executable, "-m", "indextts_dub", "dub", str(demo / "episode.srt"), "--cast",
                       str(demo / "cast.yaml"), "--video", str(demo / "clip.mp4"), "-o", str(out), "--dry-run"])
    print(f"demo --dry-run (fresh process, best of 3) {dry:6.2f} s   python -c 'import numpy' {unit:5.2f} s   "
          f"ratio {dry / unit:5.1f}")


if __name__ == "__main__":
    sys.exit(main())
