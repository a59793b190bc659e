"""The service against one local process, measured in one run (no timed assertions anywhere).

    python benchmarks/service_bench.py                      # the built-in engine (Kokoro, CPU)
    python benchmarks/service_bench.py --engine toy         # the tests' toy engine (fast, not speech)

The same N short jobs (different lines each, so no job re-uses another's takes) run
(a) one after another in one local process (``indextts_dub.dub``), then through the service on a
real redis-server and real ``indextts-dub worker`` processes (b) with 1 and (c) with 2 workers
(one process each, a fresh store each time). It prints:

* per-line queue overhead in ms: the time a line costs through the queue beyond what it costs in
  the local process, outside synthesis (((wall - synthesis) through the queue with one worker
  - (wall - synthesis) locally) / lines);
* the throughput ratio of (b) and (c) against (a) (local wall / service wall for the same jobs);
* the share of a job's wall time outside synthesis, locally and through the queue;
* from those measured overheads and a GPU real-time factor (default 0.21: IndexTTS-2.5 bf16 on an
  RTX 4090, upstream's figure, not ours; ``--rtf`` replaces it once a GPU run of ours exists),
  the latency of one 30-second video and the videos per day one GPU and a pool of N GPUs
  sustain. Those assume the CPU work per line measured here (plan, fit, delivery without a video)
  and that a pool scales with its workers (each line is its own task; Redis and the store are far
  from saturated at these rates). The seed's figures to beat: about 30 s per short video, ten
  thousand videos a day.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

UPSTREAM_RTF = 0.21
WORDS = ("morning evening storm harbour lantern river market window garden letter station mountain "
         "winter summer thunder silver orange quiet music paper").split()


def episodes(root: Path, jobs: int, lines: int, cast: str) -> list[Path]:
    from support.service import episode

    out = []
    for j in range(jobs):
        said = [(("Alice", "Bob")[i % 2], f"The {WORDS[(j * 7 + i) % len(WORDS)]} and the "
                 f"{WORDS[(j * 3 + 2 * i + 1) % len(WORDS)]}, number {j * lines + i}.") for i in range(lines)]
        folder = root / f"job{j:03d}"
        episode(folder, lines=said, cast=cast)
        out.append(folder)
    return out


def run_local(folders: list[Path], out: Path) -> tuple[float, float]:
    import os

    from indextts_dub import dub

    here = os.getcwd()
    synth = 0.0
    t0 = time.perf_counter()
    for f in folders:
        os.chdir(f)
        try:
            synth += dub("episode.srt", cast="cast.yaml", out=out / f.name).facts.engine_seconds
        finally:
            os.chdir(here)
    return time.perf_counter() - t0, synth


def run_service(folders: list[Path], workers: int, tmp: Path, env: dict, engine: str) -> tuple[float, float]:
    from indextts_dub.service import jobs, tasks
    from indextts_dub.service.store import Store
    from support.service import RedisServer, Worker

    redis = RedisServer(tmp / "redis").start()
    store = Store.at(tmp / "store")
    started = []
    try:
        # each worker loads its engine as it starts, before the clock runs (as a deployed pool has)
        started = [Worker(redis.url, store.root, tmp / f"worker{i}.log", 1, env, ["--engine", engine])
                   for i in range(workers)]
        tasks.configure(redis.url, store.root)
        t0 = time.perf_counter()
        ids = []
        for f in folders:
            names, files = jobs.input_files(f / "episode.srt", f / "cast.yaml")
            job = tasks.create(store, files, names["subtitles"], names["cast"], names["video"])
            tasks.start(store, job)
            ids.append(job)
        recs = [tasks.wait(store, j, poll=0.02) for j in ids]
        wall = time.perf_counter() - t0
        bad = [r for r in recs if r["state"] != "done"]
        if bad:
            raise SystemExit(f"a job did not finish: {bad[0].get('errors')}")
        return wall, sum(r.get("engine_seconds", 0.0) for r in recs)
    finally:
        for w in started:
            w.stop()
        redis.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("kokoro", "toy"), default="kokoro")
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--lines", type=int, default=6, help="lines per job")
    ap.add_argument("--rtf", type=float, default=UPSTREAM_RTF,
                    help="GPU real-time factor for the projection (default 0.21, upstream's IndexTTS-2.5 bf16 on an RTX 4090)")
    ap.add_argument("--video-lines", type=int, default=10, help="lines in a 30-second video, for the projection")
    ap.add_argument("--gpus", type=int, default=8, help="the pool size for the projection")
    args = ap.parse_args()

    from support.service import REDIS, child_env

    if REDIS is None:
        print("redis-server is not installed (tests/setup-debian.sh installs it); nothing was measured")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="service-bench-"))
    extra = []
    if args.engine == "toy":
        from support import engine_dist

        site = engine_dist.install(tmp / "site")
        sys.path.insert(0, str(site))
        extra = [str(site)]
        cast = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: toy:low\n"
    else:
        cast = "characters:\n  Alice: kokoro:jf_alpha\n  Bob: kokoro:jm_kumo\n"
    env = child_env(extra)
    try:
        folders = episodes(tmp / "inputs", args.jobs, args.lines, cast)
        n = args.jobs * args.lines
        # warm both sides once (model load, imports), so the figures compare steady states
        warm = episodes(tmp / "warm", 1, 2, cast)
        run_local(warm, tmp / "warm-out")
        local_wall, local_synth = run_local(folders, tmp / "local")
        results = {}
        for w in (1, 2):
            results[w] = run_service(folders, w, tmp / f"service{w}", env, args.engine)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"== {args.jobs} jobs x {args.lines} lines, engine {args.engine}, engines loaded before timing")
    print(f"{'run':28s} {'wall s':>8s} {'synth s':>8s} {'outside synth':>14s} {'throughput vs local':>20s}")
    print(f"{'(a) local, one process':28s} {local_wall:8.2f} {local_synth:8.2f} "
          f"{1 - local_synth / local_wall:14.0%} {1.0:20.2f}")
    for w, (wall, synth) in results.items():
        print(f"{f'({chr(97 + w)}) service, {w} worker(s)':28s} {wall:8.2f} {synth:8.2f} {1 - synth / wall:14.0%} "
              f"{local_wall / wall:20.2f}")
    wall1, synth1 = results[1]
    local_other = (local_wall - local_synth) / n
    queue_other = max(0.0, ((wall1 - synth1) - (local_wall - local_synth)) / n)
    print(f"per-line queue overhead: {queue_other * 1000:.1f} ms (outside synthesis; local per-line CPU work "
          f"outside synthesis {local_other * 1000:.1f} ms)")

    synth_video = 30 * args.rtf
    per_video_other = args.video_lines * (local_other + queue_other)
    one_gpu = synth_video + per_video_other
    # a video's lines spread over the pool; the work outside synthesis is counted as if serial
    latency_pool = synth_video / min(args.gpus, args.video_lines) + per_video_other
    print(f"== projection for 30-second videos of {args.video_lines} lines, RTF {args.rtf} "
          f"({'upstream IndexTTS-2.5 bf16 on an RTX 4090, not measured here' if args.rtf == UPSTREAM_RTF else 'given'})")
    print(f"one GPU: {one_gpu:.1f} s per video ({synth_video:.1f} s synthesis + {per_video_other:.1f} s outside it), "
          f"{86400 / one_gpu:,.0f} videos/day")
    print(f"{args.gpus} GPUs: {args.gpus * 86400 / one_gpu:,.0f} videos/day; one video's latency "
          f"{latency_pool:.1f} s with its lines spread over the pool")
    print("seed's figures to beat: about 30 s per short video, 10,000 videos/day")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
