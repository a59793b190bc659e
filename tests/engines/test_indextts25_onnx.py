"""The ONNX tier: engine ``indextts25-onnx`` through the real ``index-tts-2.5-onnx`` package (its
own frontend, DSP, GPT sampler, flow-matching solver and onnxruntime sessions), over a tiny,
seeded, randomly initialised model folder built at test time (tests/support/indextts25_onnx_model.py:
the nine graphs with the names and shapes the port feeds, a byte-level tokenizer, the feature
extractor's settings, the speaker projection), with every socket blocked.

What this tier proves: that the adapter drives the port's real pipeline end to end on a CPU
through our pipeline (a bilingual two-voice scene), that the exact-length path (duration_factor,
then our fit) lands on the planned sample count, that the speaker context is computed once per
clip content and reused from the store in a fresh engine with identical takes, that replayed GPT
codes give the very take a full render gives, that a missing model file is named before anything
loads, and that nothing reaches the network. It cannot judge how speech sounds (random weights)."""
from __future__ import annotations

import hashlib
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("index_tts_2_5_onnx", reason="the indextts25-onnx extra is not installed")

from support import indextts25_onnx_model as tiny                     # noqa: E402
from support.paths import DEMO, run_cli, write                       # noqa: E402
from indextts_dub import audio, dub, engines                         # noqa: E402
from indextts_dub.engines import EngineConfigError, Request, refclip  # noqa: E402
from indextts_dub.engines import indextts25_onnx as onnx_engine      # noqa: E402

SRT = ("1\n00:00:00,500 --> 00:00:01,550\nAnna: {emotion=angry:0.7}Where were you last night?\n\n"
       "2\n00:00:02,000 --> 00:00:03,250\nBen: 我们要重复昨天的实验。\n\n"
       "3\n00:00:03,500 --> 00:00:04,250\nAnna: Tell me the truth.\n\n"
       "4\n00:00:05,000 --> 00:00:06,800\nBen: 好的，我知道了。\n")
CAST = """engine: indextts25-onnx
engine_options:
  model_dir: {model}
  conditioning_cache: cond.sqlite
  threads: 1
voice_library: voices.sqlite
characters:
  Anna:
    voice: {{ref: anna.wav}}
    language: en
  Ben:
    voice: {{library: wang}}
"""


def _blocked(*a, **k):
    raise OSError("network access blocked by the test")


@pytest.fixture(scope="module")
def nonet():
    """Every socket blocked for the module (the port's loader would download from a hub)."""
    mp = pytest.MonkeyPatch()
    for obj, attr in ((socket.socket, "connect"), (socket.socket, "connect_ex"), (socket, "create_connection"),
                      (socket, "getaddrinfo")):
        mp.setattr(obj, attr, _blocked)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def model(tmp_path_factory, nonet) -> Path:
    return tiny.build(tmp_path_factory.mktemp("onnx") / "model")


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A fresh engine registry and a user cache of the test's own."""
    monkeypatch.setattr(engines.registry, "_loaded", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def project(root: Path, model: Path) -> Path:
    p = root / "project"
    p.mkdir(exist_ok=True)
    shutil.copy(DEMO / "voices" / "mei.wav", p / "anna.wav")
    shutil.copy(DEMO / "voices.sqlite", p / "voices.sqlite")
    write(p / "e.srt", SRT)
    write(p / "cast.yaml", CAST.format(model=model))
    return p


def loaded() -> onnx_engine.IndexTTS25OnnxEngine:
    return next(e for e in engines.registry._loaded.values() if isinstance(e, onnx_engine.IndexTTS25OnnxEngine))


def digest(x) -> str:
    return hashlib.sha256(np.asarray(x, "<f4").tobytes()).hexdigest()


def test_a_bilingual_scene_through_the_onnx_port(model, fresh, monkeypatch):
    p = project(fresh, model)
    res = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out", planner="per-line")
    eng = loaded()
    # every line spoken, two voices by clip content, each voice's context computed once
    assert sorted(c.line.cue.id for c in res.clips) == ["1", "2", "3", "4"]
    assert eng.stats["conditioning_computed"] == 2
    assert eng.stats["conditioning_from_memory"] >= 2
    # no emotion control: said once, the line still spoken
    assert any("cannot render emotion" in w for w in res.warnings), res.warnings
    assert any("no emotion control" in n for n in eng.notes) and "fp32 on CPU" in eng.notes[0]
    # exact length: every clip is its planned length; lines squeezed within the factor's range
    # come from the engine at their planned speech length (no stretch after it)
    entries = {e.index: e for e in res.plan.entries}
    squeezed = [c for c in res.clips if abs(c.speed - 1.0) > 1e-6]
    assert squeezed
    for c in res.clips:
        assert c.length == entries[c.line.index].length
    for c in squeezed:
        assert c.speech_samples == entries[c.line.index].speech_samples, c
    # the GPT stage once per line content: the exact-length renders replayed its codes
    assert eng.stats["gpt_runs"] == 4 and eng.stats["gpt_replayed"] >= len(squeezed)
    assert (p / "out" / "dub.wav").is_file()
    first = [digest(c.audio) for c in res.clips]

    # a fresh engine, a fresh take cache: the speaker contexts come from the store (the library's
    # table for Ben's library voice, the cache file for Anna's clip), the takes are identical
    monkeypatch.setattr(engines.registry, "_loaded", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(fresh / "cache2"))
    again = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out2", planner="per-line")
    eng2 = loaded()
    assert eng2 is not eng
    assert eng2.stats["conditioning_computed"] == 0 and eng2.stats["conditioning_from_disk"] == 2
    assert [digest(c.audio) for c in again.clips] == first
    assert (p / "cond.sqlite").is_file()


def test_exact_length_duration_factor_then_the_fit(model, fresh):
    eng = onnx_engine.IndexTTS25OnnxEngine(model_dir=str(model), threads=1,
                                           conditioning_cache=str(fresh / "cond.sqlite"))
    clip = refclip.read_clip(DEMO / "voices" / "mei.wav")
    req = Request("Tell me the truth, all of it.", "ref", "en", reference=str(DEMO / "voices" / "mei.wav"),
                  reference_hash=clip.hash, seed=3)
    natural = audio.trim_silence(eng.synthesize(req), eng.info.sample_rate).size
    assert natural > 0 and eng.stats["gpt_runs"] == 1
    for ratio in (0.6, 0.85, 1.4):
        target = int(natural * ratio)
        got = audio.trim_silence(eng.synthesize(replace(req, target_samples=target)), eng.info.sample_rate).size
        assert abs(got - target) <= onnx_engine.HOP, (ratio, target, got)   # within one mel frame
    assert eng.stats["gpt_runs"] == 1                # every render after the first replayed the codes
    # a replayed render is the very take the port renders with its GPT run again
    ctx = eng.speaker(*refclip.hashed_file(req.reference, req.reference_hash))
    key = eng.take_key(req, clip.hash)
    ours = eng._render(req, *refclip.hashed_file(req.reference, req.reference_hash), key, 0.85)
    direct_gpt, eng.pipe.engines.gpt = eng.pipe.engines.gpt, eng.replay.gpt
    try:
        theirs = eng.pipe.synthesize(req.text, lang="en", spk=ctx, seed=int(key[:8], 16) & 0x7FFFFFFF,
                                     duration_factor=0.85)
    finally:
        eng.pipe.engines.gpt = direct_gpt
    assert np.array_equal(ours, theirs.astype(np.float32) / 32767.0)
    # the same request gives the same take; another seed another one
    a = eng.synthesize(replace(req, seed=11))
    assert np.array_equal(a, eng.synthesize(replace(req, seed=11)))
    assert not np.array_equal(a, eng.synthesize(req))
    # beyond duration_factor's range the engine stops at its bound and says so by its length:
    # the fit stage stretches the rest (pipeline test above: every clip at its planned length)
    target = int(natural * 0.3)
    got = audio.trim_silence(eng.synthesize(replace(req, target_samples=target)), eng.info.sample_rate).size
    assert got > target + onnx_engine.HOP


def test_a_missing_model_file_is_named_before_anything_loads(model, fresh):
    broken = fresh / "broken"
    shutil.copytree(model, broken)
    (broken / "gpt_step" / "gpt_step.onnx.data").unlink()
    (broken / "spk_proj.npz").unlink()
    p = project(fresh, broken)
    r = run_cli("dub", p / "e.srt", "--cast", p / "cast.yaml", "-o", p / "out", cwd=p,
                env={"XDG_CACHE_HOME": str(fresh / "cache")})
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "gpt_step/gpt_step.onnx.data" in r.stderr and "spk_proj.npz" in r.stderr and str(broken) in r.stderr
    assert "2 required files missing" in r.stderr and "never downloads" in r.stderr
    assert "cast.yaml" in r.stderr                      # blamed on the casting file's option
    assert not (p / "out").exists()


def test_options_are_checked_at_once():
    with pytest.raises(EngineConfigError) as e:
        onnx_engine.IndexTTS25OnnxEngine.check(model_dir=None, device="tpu", threads=0,
                                               generation={"temperature": "hot", "beam": 2}, speed=1)
    problems = dict((k, m) for k, m in e.value.problems)
    assert set(problems) == {"device", "threads", "generation", "speed", "model_dir"}
    text = str(e.value)
    assert "tpu" in text and "generation.beam" in text and "generation.temperature" in text
    assert "no model folder" in text and onnx_engine.ENV_DIR in text


def test_without_the_package_it_says_what_to_install(monkeypatch, model):
    real = onnx_engine.importlib.util.find_spec
    monkeypatch.setattr(onnx_engine.importlib.util, "find_spec",
                        lambda name, *a: None if name == onnx_engine.MODULE else real(name, *a))
    with pytest.raises(EngineConfigError) as e:
        onnx_engine.IndexTTS25OnnxEngine.check(model_dir=str(model))
    assert "pip install 'indextts-dub[indextts25-onnx]'" in str(e.value)


def test_describing_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from indextts_dub import engines; i = engines.describe('indextts25-onnx', "
            "{'model_dir': '/nowhere'}); assert i.exact_length and not i.emotion and i.reference_voice; "
            "bad = [m for m in ('onnxruntime', 'index_tts_2_5_onnx', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
