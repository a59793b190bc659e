"""Where things are, and small helpers every test uses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
DEMO = REPO / "samples" / "demo"
DATA = TESTS / "data"
SHARED_REALWORLD = REPO.parent / "shared" / "realworld"


def realworld(relative: str) -> Path:
    """A real-world input: the shared copy when present, else the one under tests/data."""
    shared = SHARED_REALWORLD / relative
    return shared if shared.exists() else DATA / "realworld" / Path(relative).name


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 900):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "indextts_dub", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
