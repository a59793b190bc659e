"""benchmarks/service_bench.py stays runnable (tiny inputs; its figures are its own output, not asserted)."""
from __future__ import annotations

import subprocess
import sys

from support.paths import REPO


def test_service_bench_runs_with_the_toy_engine():
    proc = subprocess.run([sys.executable, "benchmarks/service_bench.py", "--engine", "toy", "--jobs", "2",
                           "--lines", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    for figure in ("per-line queue overhead", "throughput vs local", "videos/day", "upstream IndexTTS-2.5"):
        assert figure in proc.stdout, figure
