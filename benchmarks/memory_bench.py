"""Peak resident memory of a whole run with the tests' toy engine, measured in one run.

    python benchmarks/memory_bench.py                 # 10 minutes, 2 hours, and a stray cue at 99:59:59
    python benchmarks/memory_bench.py --cases 1min    # one case (1min: a quick check that it runs)
    python benchmarks/memory_bench.py --cap-gb 6      # the address-space cap of each child run
    python benchmarks/memory_bench.py --format wav24  # stems and mix as WAV (2 hours x 30 stems: 31 GB of disk)

Each case is a generated film (30 characters, a line every 3.6 s on average, slots from loose to
tight) dubbed in a child process whose address space is capped (``--cap-gb``, default 6 GiB), so
a run that would need more fails there with MemoryError instead of taking the machine's memory;
its peak resident set is printed. Stems and the mix are FLAC by default (silence costs next to
nothing on disk; a 2-hour WAV stem is 1 GB). Target: at most 1 GiB, and the same for 10 minutes as for 2 hours
(memory must follow the longest line and the characters speaking at once, not the programme).
"""
from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
NAMES = ("Ada Ben Cleo Dan Eve Finn Gus Hana Ivo Jade Kai Lena Milo Nora Otto Pia Quin Rosa Sam Tara Uma Vik "
         "Wren Xena Yuri Zoe Abel Bea Cyd Dora").split()
CASES = {"1min": (60, 17, False), "10min": (600, 167, False), "2h": (7200, 2000, False), "stray": (600, 167, True)}


def ts(ms: int) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def film(folder: Path, seconds: int, lines: int, stray: bool, characters: int = 30, seed: int = 11) -> tuple[Path, Path]:
    rng = random.Random(seed)
    names = NAMES[:characters]
    step = seconds * 1000 // lines
    blocks = []
    for i in range(lines):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize() + "."
        start = i * step + rng.randint(0, step // 4)
        dur = max(500, int(80 * len(text) * rng.uniform(0.7, 1.2)))      # the toy engine: 80 ms a character
        blocks.append(f"{i + 1}\n{ts(start)} --> {ts(min(start + dur, (i + 1) * step - 50))}\n{rng.choice(names)}: {text}\n")
    if stray:
        blocks.append(f"{lines + 1}\n99:59:59,000 --> 99:59:59,900\n{names[0]}: Stray.\n")
    srt = folder / "film.srt"
    srt.write_text("\n".join(blocks), encoding="utf-8")
    cast = folder / "cast.yaml"
    cast.write_text("engine: toy\ncharacters:\n" + "".join(f"  {n}: {'low' if k % 2 else 'high'}\n"
                                                           for k, n in enumerate(names)), encoding="utf-8")
    return srt, cast


def child(case: str, cap_gb: float, fmt: str) -> int:
    cap = int(cap_gb * 1024 ** 3)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from support import engine_dist

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sys.path.insert(0, str(engine_dist.install(tmp / "site")))
        seconds, lines, stray = CASES[case]
        srt, cast = film(tmp, seconds, lines, stray)
        from indextts_dub.deliver.mix import MixOptions
        from indextts_dub.errors import DubError, SystemFault
        from indextts_dub.pipeline import dub

        try:
            dub(srt, cast=cast, out=tmp / "out", editor_copies=(), mix_options=MixOptions(format=fmt))
        except (DubError, SystemFault) as exc:
            print(f"refused {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {exc}", flush=True)
            return 0
        except MemoryError:
            print(f"MemoryError {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)
            return 4
        print(f"ok {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)     # KiB on Linux
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", default=["10min", "2h", "stray"], choices=list(CASES))
    ap.add_argument("--cap-gb", type=float, default=6.0)
    ap.add_argument("--format", default="flac", choices=("wav16", "wav24", "float", "flac"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.cap_gb, args.format)
    print(f"toy engine, 30 characters, {args.format} stems and mix, address space capped at {args.cap_gb:g} GiB per run")
    for case in args.cases:
        seconds, lines, stray = CASES[case]
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", case, "--cap-gb", str(args.cap_gb),
                               "--format", args.format], capture_output=True, text=True)
        took = time.perf_counter() - t0
        what = f"{lines} lines over {seconds / 60:.0f} min" + (" + one cue at 99:59:59" if stray else "")
        last = (proc.stdout.strip().splitlines() or [""])[-1].split(maxsplit=2)
        peak = f"{int(last[1]) / 1024:.0f} MiB" if len(last) >= 2 and last[1].isdigit() else "?"
        if proc.returncode == 0 and last[:1] == ["ok"]:
            print(f"  {case:6s} {what:42s} peak resident {peak} ({took:.0f} s)", flush=True)
        elif last[:1] == ["refused"]:
            print(f"  {case:6s} {what:42s} refused before speaking, peak resident {peak}: {last[2] if len(last) > 2 else ''}",
                  flush=True)
        elif last[:1] == ["MemoryError"]:
            print(f"  {case:6s} {what:42s} needs more than the {args.cap_gb:g} GiB cap (MemoryError; "
                  f"peak resident until then {peak})", flush=True)
        else:
            print(f"  {case:6s} {what:42s} failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
