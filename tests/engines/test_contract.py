"""The engine contract, from outside the package: a distribution of its own (tests/support/
toy_engine/, registered through the indextts_dub.engines entry point) dubs; the optional hooks
have their defaults; an option the engine does not take is bad input; a constructor that breaks
is an engine error."""
from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pytest

from indextts_dub import dub, engines
from indextts_dub.engines import Engine, EngineConfigError, EngineInfo, Request
from indextts_dub.errors import DubError
from support.paths import run_cli, write

SRT = "1\n00:00:00,500 --> 00:00:02,500\nAnna: Hello there.\n\n2\n00:00:03,000 --> 00:00:05,000\nBen: 你好。\n"
CAST = "engine: toy\ncharacters:\n  Anna: toy:low\n  Ben: toy:high\n"


def test_an_engine_from_its_own_distribution_dubs(tmp_path, toy_engine):
    assert "toy" in {ep.name for ep in entry_points(group=engines.GROUP)}      # importlib.metadata sees it
    assert engines.engine_class("toy").__module__ == "toy_engine"               # not a module of ours
    res = dub(write(tmp_path / "e.srt", SRT), cast=write(tmp_path / "cast.yaml", CAST), out=tmp_path / "out")
    calls = engines.load("toy").calls
    assert {c.text for c in calls} == {"Hello there.", "你好。"} and {c.voice for c in calls} == {"low", "high"}
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert doc["engine"] == {"name": "toy", "version": "toy-1"} and len(res.clips) == 2
    assert all(c.length == c.entry.length for c in res.clips)


def test_optional_members_have_their_defaults():
    class Minimal(Engine):
        @classmethod
        def describe(cls, **options):
            return EngineInfo("minimal", "1", 16_000, ("en",), (), native_speed=False)

        def __init__(self, level: float = 0.1):
            self.info = self.describe()

        def synthesize(self, request: Request) -> np.ndarray:
            return np.full(1600, 0.1, np.float32)

    assert Minimal.path_options == () and Minimal.run_options == () and tuple(Minimal().notes) == ()
    Minimal.check(level=0.2)                                    # a constructor parameter: fine
    with pytest.raises(EngineConfigError) as err:
        Minimal.check(levle=0.2, colour="red")
    assert [k for k, _ in err.value.problems] == ["levle", "colour"]
    assert "known: level" in str(err.value)
    with pytest.raises(NotImplementedError):
        Engine.describe()


def test_an_option_the_engine_does_not_take_is_bad_input(tmp_path, toy_engine):
    cast = write(tmp_path / "cast.yaml", CAST + "engine_options:\n  volume: 3\n")
    with pytest.raises(DubError) as err:
        dub(write(tmp_path / "e.srt", SRT), cast=cast, out=tmp_path / "out")
    (problem,) = err.value.problems
    assert (problem.line, problem.field) == (6, "engine_options.volume") and "unknown option" in problem.message
    assert not (tmp_path / "out").exists()


def test_a_constructor_that_breaks_is_an_engine_error_not_bad_options(tmp_path, toy_engine):
    env = {"PYTHONPATH": str(toy_engine.SITE)}
    res = run_cli("dub", write(tmp_path / "e.srt", SRT), "--cast", write(tmp_path / "cast.yaml", CAST),
                  "--engine-option", "explode=true", "-o", tmp_path / "out", "-q", env=env)
    assert res.returncode == 3, res.stderr
    assert "engine toy failed to load: TypeError" in res.stderr and "Traceback" not in res.stderr
    assert "does not take" not in res.stderr


def test_natural_takes_reach_the_batch_call_one_voice_at_a_time(tmp_path, toy_engine):
    """``synthesize_many`` is optional: an engine that has it gets a run's missing natural takes
    grouped by voice (lines alternate between speakers here), each line once, and the takes are the
    ones it would have spoken one by one; the default speaks them one by one."""
    srt = "".join(f"{i + 1}\n00:00:{2 * i:02d},100 --> 00:00:{2 * i + 1:02d},900\n{who}: Line number {i + 1}.\n\n"
                  for i, who in enumerate(["Anna", "Ben", "Anna", "Ben", "Anna"]))
    srt += "6\n00:00:12,100 --> 00:00:13,900\nBen: Line number 2.\n"          # Ben says line 2 again
    write(tmp_path / "e.srt", srt)
    write(tmp_path / "cast.yaml", CAST + "engine_options: {batch: true}\n")
    batched = dub(tmp_path / "e.srt", cast=tmp_path / "cast.yaml", out=tmp_path / "out")
    eng = engines.load("toy", batch=True)
    assert [[r.voice for r in b] for b in eng.batches] == [["low"] * 3, ["high"] * 2]
    assert sorted(r.text for b in eng.batches for r in b) == [f"Line number {i}." for i in (1, 2, 3, 4, 5)]
    assert all(r.speed == 1.0 for b in eng.batches for r in b)
    engines.registry._loaded.clear()
    write(tmp_path / "cast.yaml", CAST)
    single = dub(tmp_path / "e.srt", cast=tmp_path / "cast.yaml", out=tmp_path / "out1")
    assert engines.load("toy").batches == []
    assert [c.audio.tobytes() for c in batched.clips] == [c.audio.tobytes() for c in single.clips]
    # a re-run finds every natural take in the cache: no batch at all
    engines.registry._loaded.clear()
    write(tmp_path / "cast.yaml", CAST + "engine_options: {batch: true}\n")
    again = dub(tmp_path / "e.srt", cast=tmp_path / "cast.yaml", out=tmp_path / "out")
    assert again.facts.synthesis_calls == 0


def test_a_batch_call_returning_the_wrong_number_of_takes_is_an_engine_error(tmp_path, toy_engine, monkeypatch):
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize_many", lambda self, requests: [])
    write(tmp_path / "e.srt", SRT)
    write(tmp_path / "cast.yaml", CAST)
    from indextts_dub.takes import Synthesizer
    from indextts_dub.pipeline import read_inputs

    inp = read_inputs(tmp_path / "e.srt", tmp_path / "cast.yaml")
    synth = Synthesizer(inp.engine, lambda: engines.load("toy"))
    with pytest.raises(engines.EngineError, match="returned 0 takes for 1 requests"):
        synth.naturals(inp.cast_lines.lines)
