"""Shared fixtures. The demo is dubbed once per session with the real built-in engine."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "samples" / "demo"
DATA = Path(__file__).resolve().parent / "data"
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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The README's demo command, through the Python API, into a fresh folder."""
    from indextts_dub import dub

    out = tmp_path_factory.mktemp("demo") / "out"
    result = dub(DEMO / "episode.srt", cast=DEMO / "cast.yaml", video=DEMO / "clip.mp4", out=out)
    return result


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def toy_engine(tmp_path, monkeypatch):
    """Install tests/toy_engine.py as engine 'toy' through a real entry point (a dist-info folder)."""
    import shutil

    from indextts_dub import engines

    site = tmp_path / "site"
    dist = site / "toy_engine_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-engine-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[indextts_dub.engines]\ntoy = toy_engine:ToyEngine\n")
    shutil.copy(Path(__file__).with_name("toy_engine.py"), site / "toy_engine.py")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(engines.registry, "_loaded", {})
    import toy_engine

    toy_engine.FAIL_ON.clear()
    toy_engine.SITE = site          # for child processes: PYTHONPATH=toy_engine.SITE
    yield toy_engine
    sys.modules.pop("toy_engine", None)
