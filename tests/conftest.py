"""Shared fixtures. The demo is dubbed once per session with the real built-in engine; helpers
and fakes live in tests/support/."""
from __future__ import annotations

import sys

import pytest

from support.paths import DEMO


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The README's demo command, through the Python API, into a fresh folder."""
    from indextts_dub import dub

    out = tmp_path_factory.mktemp("demo") / "out"
    return dub(DEMO / "episode.srt", cast=DEMO / "cast.yaml", video=DEMO / "clip.mp4", out=out)


@pytest.fixture
def toy_engine(tmp_path, monkeypatch):
    """The toy engine distribution (tests/support/toy_engine/) installed into a temporary site
    folder with its entry point, as pip would leave it, and importable from it."""
    from indextts_dub.engines import registry
    from support import engine_dist

    site = engine_dist.install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_loaded", {})
    import toy_engine

    toy_engine.FAIL_ON.clear()
    toy_engine.SITE = site          # for child processes: PYTHONPATH=toy_engine.SITE
    yield toy_engine
    sys.modules.pop("toy_engine", None)
