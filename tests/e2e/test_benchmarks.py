"""The benchmark scripts stay runnable (small inputs; their figures are not asserted: timings
belong to the scripts' own output, never to tests)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from support.paths import REPO


def bench(*args: str, timeout: int = 600) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


def test_plan_bench_runs_with_the_toy_engine():
    out = bench("benchmarks/plan_bench.py", "--engine", "toy", "--film-lines", "200", "--scale-cues", "300",
                "--scale-characters", "60")
    assert "per-line" in out and "episode" in out and "names / no names" in out


def test_timeline_bench_runs():
    out = bench("benchmarks/timeline_bench.py", "--clips", "40")
    assert "fcp_xml" in out and "kdenlive" in out


def test_frontend_bench_runs():
    assert "us/line" in bench("benchmarks/frontend.py", "--repeat", "1")


@pytest.mark.parametrize("script", ["dub_run.py", "incremental_bench.py"])
def test_whole_run_benches_run(script):
    args = ["--lines", "4", "--skip-demo"]
    out = bench(f"benchmarks/{script}", *args)
    assert "ratio" in out or "real-time factor" in out


def test_memory_bench_runs():
    out = bench("benchmarks/memory_bench.py", "--cases", "1min")
    assert "peak resident" in out and "failed" not in out


def test_gpu_bench_explains_what_it_needs_here():
    proc = subprocess.run([sys.executable, "benchmarks/indextts2_gpu.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "nothing was measured" in (proc.stdout + proc.stderr)


def test_gpu_bench_says_nothing_was_measured_in_its_json_too():
    import json

    proc = subprocess.run([sys.executable, "benchmarks/indextts2_gpu.py", "--json", "-", "--budget", "60"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2 and doc["measured"] is False and doc["reason"] and doc["figures"] == {}
    assert "nothing was measured" in proc.stderr
