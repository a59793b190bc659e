"""Contract tests of the IndexTTS2 engine against a stand-in index-tts (tests/support/standin/).

No GPU and no checkpoints exist here: the stand-in has index-tts's real class and method
signatures (read from its repository) and records every call, over a numpy-backed torch. These
tests prove our side of the contract only: how the engine calls index-tts for every voice and
emotion form, that conditioning is kept by clip content, the two-stage exact-length path, the
missing-file listing, the offline default and that torch is imported only when the engine loads.
They cannot prove what the real model sounds like."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support import indextts2_standin
from support.paths import DEMO, REPO, run_cli, write
from indextts_dub import audio, engines
from indextts_dub.engines import indextts2, refclip
from indextts_dub.engines import EngineConfigError, EngineError, Request
from indextts_dub.errors import DubError

SRT = ("1\n00:00:00,500 --> 00:00:03,000\nAnna: {emotion=angry:0.7}Where were you last night?\n\n"
       "2\n00:00:03,200 --> 00:00:05,600\nBen: 我们要重复昨天的实验。\n\n"
       "3\n00:00:05,800 --> 00:00:07,800\nAnna: Tell me the truth.\n\n"
       "4\n00:00:08,000 --> 00:00:09,500\nCleo: Nothing happened, I promise.\n\n"
       "5\n00:00:09,700 --> 00:00:11,700\nDee: 安静一点，好吗？\n\n"
       "6\n00:00:11,900 --> 00:00:13,000\nBen: 好的，好的，我知道了，我们马上开始准备。\n\n"
       "7\n00:00:13,200 --> 00:00:15,000\nEve: {emotion=neutral}Fine.\n")
def squeeze(srt: str, factor: float = 0.5) -> str:
    """Every cue ``factor`` as long (same start): too short for its line even with the silence the
    plan may borrow, so the engine must render lines shorter than natural."""
    import re

    def one(m):
        a = [int(x) for x in m.group(1, 2, 3, 4)]
        b = [int(x) for x in m.group(5, 6, 7, 8)]
        ms_a = ((a[0] * 60 + a[1]) * 60 + a[2]) * 1000 + a[3]
        ms_b = ((b[0] * 60 + b[1]) * 60 + b[2]) * 1000 + b[3]
        end = ms_a + int((ms_b - ms_a) * factor)
        return (f"{m.group(0).split(' --> ')[0]} --> "
                f"{end // 3600000:02d}:{end // 60000 % 60:02d}:{end // 1000 % 60:02d},{end % 1000:03d}")
    return re.sub(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", one, srt)


CAST = """engine: indextts2
engine_options:
  checkpoints: ck
  conditioning_cache: cond.sqlite
voice_library: voices.sqlite
characters:
  Anna:
    voice: {{ref: mei.wav}}
  Ben:
    voice: {{library: wang}}
    emotion: [0, 0.9, 0, 0, 0, 0, 0.5, 0]
  Cleo:
    voice: kokoro:jf_alpha
    emotion_ref: mei_excited.wav
    emotion_alpha: 0.6
  Dee:
    voice: {{ref: mei.wav}}
    emotion_text: 严厉地命令
    emotion_alpha: 0.5
  Eve:
    voice: {{ref: mei.wav}}
    emotion: calm:0.4
{extra}"""


@pytest.fixture
def standin(tmp_path, monkeypatch):
    s = indextts2_standin.install(tmp_path, monkeypatch)
    yield s
    s.restore()


def project(tmp_path: Path, version: str = "2", extra: str = "", **ck) -> Path:
    """A project folder: subtitles, cast, clips, a copy of the demo library, a checkpoint folder."""
    p = tmp_path / "project"
    p.mkdir(exist_ok=True)
    shutil.copy(DEMO / "voices" / "mei.wav", p / "mei.wav")
    shutil.copy(DEMO / "clips" / "mei_excited.wav", p / "mei_excited.wav")
    shutil.copy(DEMO / "voices.sqlite", p / "voices.sqlite")
    write(p / "e.srt", SRT)
    write(p / "cast.yaml", CAST.format(extra=extra))
    indextts2_standin.checkpoints(p / "ck", version, **ck)
    return p


def clip_path(path: Path) -> str:
    """Where the engine shows a clip to the model: a file named by its content hash."""
    return str(refclip.clip_file(refclip.read_clip(path, refclip.EMOTION_SECONDS)))


def natural_infer(standin) -> dict[str, dict]:
    """The first ``infer`` call of each text (its natural take)."""
    out: dict[str, dict] = {}
    for d in standin.calls("infer"):
        out.setdefault(d["text"], d)
    return out


# ---------------------------------------------------------------------------- torch stays out

def test_package_describe_and_casting_never_import_torch(tmp_path, standin):
    p = project(tmp_path)
    code = textwrap.dedent(f"""
        import sys
        import indextts_dub
        from indextts_dub import engines
        from indextts_dub.pipeline import read_inputs
        assert engines.describe("indextts2").name == "indextts2"
        inp = read_inputs({str(p / 'e.srt')!r}, {str(p / 'cast.yaml')!r})
        assert inp.engine.exact_length and inp.engine.version == "IndexTTS-2"
        assert "torch" not in sys.modules, "torch imported before the engine loads"
        assert not any(m.startswith("indextts.") for m in sys.modules), "index-tts imported too early"
        engines.load("indextts2", **inp.engine_options)
        assert "torch" in sys.modules and "indextts.infer_v2" in sys.modules
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(standin.site))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=p, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ---------------------------------------------------------------------------- argument mapping

@pytest.mark.parametrize("version", ["2", "2.5"])
def test_every_voice_and_emotion_form_maps_to_infer_arguments(tmp_path, standin, version):
    from indextts_dub import dub
    from indextts_dub.voices.library import Library

    p = project(tmp_path, version)
    res = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out")
    init = standin.calls("init")
    assert len(init) == 1                      # one model, loaded once
    init = init[0]
    assert init["version"] == version and init["cfg_path"] == str(p / "ck" / "config.yaml")
    assert init["model_dir"] == str(p / "ck") and init["use_qwen_emo"] is True
    if version == "2":
        assert init["use_fp16"] is False
        assert init["aux_paths"] == {"w2v_bert": str(p / "ck/hf_cache/w2v-bert-2.0"),
                                     "semantic_codec": str(p / "ck/hf_cache/semantic_codec_model.safetensors"),
                                     "campplus": str(p / "ck/hf_cache/campplus_cn_common.bin"),
                                     "bigvgan": str(p / "ck/hf_cache/bigvgan")}
    else:
        assert init["use_bf16"] is True and "aux_paths" not in init

    calls = natural_infer(standin)
    mei = clip_path(p / "mei.wav")
    anna = calls["Where were you last night?"]
    # voice: a reference clip, as a file named by its content hash
    assert anna["spk_audio_prompt"] == mei and Path(mei).stem == refclip.read_clip(p / "mei.wav").hash
    # preset -> emo_vector through the web UI's normalisation (the stand-in's is recognisable), alpha 1
    norm = {tuple(d["vector"]): d for d in standin.calls("normalize_emo_vec")}
    assert anna["emo_vector"] == [0.0, 0.35, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] and anna["emo_alpha"] == 1.0
    assert anna["emo_audio_prompt"] is None and anna["use_emo_text"] is False and anna["use_random"] is False
    assert anna["output_path"] is None and anna["interval_silence"] == 200
    assert anna["max_text_tokens_per_segment"] == 120
    # vector: the one written (sum 1.4) is normalised by the model's own rule, not pre-capped
    ben_text = "我们要chong2复昨天的实验。" if version == "2" else "我们要<重|CHONG2>复昨天的实验。"
    ben = calls[ben_text]
    assert (0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0) in norm
    assert ben["emo_vector"] == pytest.approx([0, 0.45, 0, 0, 0, 0, 0.25, 0]) and ben["emo_alpha"] == 1.0
    with Library(p / "voices.sqlite") as lib:
        assert Path(ben["spk_audio_prompt"]).stem == lib.get("wang").clip_hash      # the library's clip
    # another engine's built-in voice, spoken as a prompt; an emotion clip with alpha
    cleo = calls["Nothing happened, I promise."]
    assert Path(cleo["spk_audio_prompt"]).stem == res.cast_lines.lines[3].reference_hash
    assert res.cast_lines.voices["Cleo"]["prompt_of"] == "kokoro:jf_alpha"
    assert cleo["emo_audio_prompt"] == clip_path(p / "mei_excited.wav") and cleo["emo_alpha"] == 0.6
    assert cleo["emo_vector"] is None and cleo["use_emo_text"] is False
    # a sentence -> use_emo_text/emo_text with alpha
    dee = calls["安静一点，好吗？"]
    assert dee["use_emo_text"] is True and dee["emo_text"] == "严厉地命令" and dee["emo_alpha"] == 0.5
    assert dee["emo_vector"] is None and dee["emo_audio_prompt"] is None
    # neutral: the speaker clip's own emotion
    eve = calls["Fine."]
    assert eve["emo_vector"] is None and eve["emo_audio_prompt"] is None and eve["use_emo_text"] is False
    assert eve["emo_alpha"] == 1.0
    if version == "2.5":
        assert anna["lang"] == "EN" and ben["lang"] == "ZH" and anna["duration_factor"] == 1.0
    else:
        assert "lang" not in anna and "duration_factor" not in anna
    # the report says which model ran and how it set the length
    doc = json.loads((p / "out" / "plan.json").read_text(encoding="utf-8"))
    label = "IndexTTS-2.5" if version == "2.5" else "IndexTTS-2"
    assert doc["engine"]["name"] == "indextts2" and doc["engine"]["version"] == label
    assert any(label in n and "exact length" in n for n in doc["engine"]["notes"])
    assert label in res.summary


def test_generation_options_and_precision_reach_the_model(tmp_path, standin):
    p = project(tmp_path, extra="")
    ck = str(p / "ck")
    eng = engines.load("indextts2", checkpoints=ck, precision="fp16", device="cuda:1",
                       generation={"temperature": 0.6, "num_beams": 1}, conditioning_cache=str(p / "c.sqlite"))
    init = standin.calls("init")[0]
    assert init["use_fp16"] is True and init["device"] == "cuda:1"
    clip = refclip.read_clip(p / "mei.wav")
    eng.synthesize(Request("Hello.", "ref", "en", reference=str(p / "mei.wav"), reference_hash=clip.hash))
    assert standin.calls("infer")[0]["generation"] == {"temperature": 0.6, "num_beams": 1}
    assert eng.info.model_id.endswith("-fp16")


# ---------------------------------------------------------------------------- conditioning by content

def test_conditioning_computed_once_per_clip_content_and_kept_on_disk(tmp_path, standin):
    from indextts_dub import dub
    from indextts_dub.voices.library import Library

    p = project(tmp_path)
    write(p / "e.srt", squeeze(SRT))
    dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out")
    speakers = standin.calls("speaker_conditioning")
    # Anna, Dee, Eve share mei.wav; Ben (library) and Cleo (prompt) have their own: three clips,
    # although the lines alternate between them and each line is rendered more than once
    assert len(speakers) == 3 and len({d["path"] for d in speakers}) == 3
    assert len(standin.calls("infer")) > 7
    emotions = standin.calls("emotion_conditioning")
    assert len({d["path"] for d in emotions}) == len(emotions)            # never twice for one clip
    # kept on disk: the library's table for its own voice, the cache file for the others
    with Library(p / "voices.sqlite") as lib:
        kinds = lib.conditioning_kinds(lib.get("wang").clip_hash)
    assert {(e, k) for e, _, k, _ in kinds} == {("indextts2", "speaker"), ("indextts2", "emotion")}
    import sqlite3

    db = sqlite3.connect(p / "cond.sqlite")
    stored = {r[0] for r in db.execute("SELECT clip_hash FROM conditioning WHERE engine='indextts2'")}
    db.close()
    assert refclip.read_clip(p / "mei.wav").hash in stored
    # a new process (a fresh engine) with changed lines: nothing recomputed, all from disk
    standin.reset()
    engines.registry._loaded.clear()
    write(p / "e.srt", squeeze(SRT).replace("Tell me the truth.", "Tell me everything."))
    dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out")
    assert standin.calls("infer") and standin.calls("speaker_conditioning") == []
    assert standin.calls("emotion_conditioning") == []
    eng = next(iter(engines.registry._loaded.values()))
    assert eng.stats["conditioning_from_disk"] >= 2 and eng.stats["conditioning_computed"] == 0


def test_a_clip_replaced_at_the_same_path_is_never_stale(tmp_path, standin):
    p = project(tmp_path)
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    voice = p / "voice.wav"
    shutil.copy(p / "mei.wav", voice)
    req = Request("Hello there.", "ref", "en", reference=str(voice))
    first = eng.synthesize(req)
    again = eng.synthesize(req)
    assert np.array_equal(first, again) and len(standin.calls("speaker_conditioning")) == 1
    # another recording written over the same file: new content, new conditioning, other audio
    x, sr = sf.read(DEMO / "voices" / "mei.wav", dtype="float32")
    sf.write(voice, np.concatenate([x[sr // 2:], x[: sr // 2]]) * 0.7, sr)
    other = eng.synthesize(req)
    spk = standin.calls("speaker_conditioning")
    assert len(spk) == 2 and spk[0]["path"] != spk[1]["path"] and spk[0]["features"] != spk[1]["features"]
    assert Path(spk[1]["path"]).stem == refclip.read_clip(voice).hash
    assert not np.array_equal(first[:2000], other[:2000])
    # alternating back and forth never recomputes either
    shutil.copy(p / "mei.wav", voice)
    eng.synthesize(req)
    assert len(standin.calls("speaker_conditioning")) == 2


def test_a_changed_clip_behind_a_checked_hash_is_refused(tmp_path, standin):
    p = project(tmp_path)
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    with pytest.raises(EngineError, match="changed since the casting file was read"):
        eng.synthesize(Request("Hi.", "ref", "en", reference=str(p / "mei.wav"), reference_hash="0" * 64))


# ---------------------------------------------------------------------------- exact length

@pytest.mark.parametrize("version", ["2", "2.5"])
def test_exact_length_runs_the_gpt_stage_once_and_renders_the_mel_stage_at_the_target(tmp_path, standin, version):
    p = project(tmp_path, version)
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    clip = refclip.read_clip(p / "mei.wav")
    req = Request("The sample weighs three and a half kilograms.", "ref", "en",
                  reference=str(p / "mei.wav"), reference_hash=clip.hash)
    natural = eng.synthesize(req)
    n = audio.trim_silence(natural, 22_050).size
    standin.reset()
    for ratio in (0.8, 0.9, 1.15, 1.25):
        target = int(n * ratio)
        x = eng.synthesize(replace(req, target_samples=target))
        assert abs(audio.trim_silence(x, 22_050).size - target) <= 256       # one mel frame
    assert standin.calls("gpt") == []          # the autoregressive stage ran once, for the natural take
    lengths = [d["ylens"] for d in standin.calls("length_regulator")]
    infers = standin.calls("infer")
    if version == "2.5":
        assert all(d["duration_factor"] != 1.0 for d in infers)              # the official way in
    else:
        assert all("duration_factor" not in d for d in infers)
    assert len(set(lengths)) == len(lengths) and len(infers) <= 4 * 3      # at most three mel renders each


def test_the_pipeline_asks_an_exact_length_engine_once_per_line_and_caches_by_target(tmp_path, standin):
    from indextts_dub import dub

    p = project(tmp_path)
    # slots far shorter than the speech: every line needs the engine's help
    tight = squeeze(SRT)
    write(p / "e.srt", tight)
    res = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out", planner="per-line")
    exact = [c for c in res.clips if abs(c.speed - 1.0) > 1e-6]
    assert exact, "no line needed a length other than its natural one"
    entries = {e.index: e for e in res.plan.entries}
    for c in exact:
        e = entries[c.line.index]
        assert c.passes == 1 and c.residual == 1.0 and c.speech_samples == e.speech_samples   # no stretch, exactly the target
    gpt = standin.calls("gpt")
    assert len(gpt) == len(res.clips)          # one autoregressive pass per line, natural and exact alike
    # a re-run with nothing changed reuses every take without loading the model
    standin.reset()
    engines.registry._loaded.clear()
    again = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out", planner="per-line")
    assert standin.calls("init") == [] and again.facts.synthesis_calls == 0
    # the least hurried of those lines in a cue 15 % shorter: its target moves past the engine's
    # tolerance (7 %), so it is a new take (the per-line plan: the episode plan would borrow the
    # silence after the cue instead)
    slowest = min(exact, key=lambda c: c.speed)
    cue = slowest.line.cue.id
    blocks = tight.split("\n\n")
    i = next(k for k, b in enumerate(blocks) if b.startswith(f"{cue}\n"))
    start, end = blocks[i].split("\n")[1].split(" --> ")
    ms_start = int(start[6:8]) * 1000 + int(start[9:12])
    ms_end = int(end[6:8]) * 1000 + int(end[9:12])
    ms = ms_end - (ms_end - ms_start) * 15 // 100
    blocks[i] = blocks[i].replace(f"--> {end}", f"--> 00:00:{ms // 1000:02d},{ms % 1000:03d}")
    write(p / "e.srt", "\n\n".join(blocks))
    third = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out", planner="per-line")
    assert third.facts.synthesis_calls == 1 and len(standin.calls("init")) == 1
    c = next(c for c in third.clips if c.line.cue.id == cue)
    assert c.speech_samples == next(e for e in third.plan.entries if e.index == c.line.index).speech_samples
    assert c.speech_samples < slowest.speech_samples / 1.07


def test_without_a_way_into_the_mel_stage_the_stretcher_takes_over_and_says_so(tmp_path, standin, monkeypatch):
    from indextts_dub import dub

    standin.sim  # import the stand-in
    import indextts._sim as sim

    monkeypatch.setattr(sim, "HOOKABLE", False)
    p = project(tmp_path)
    write(p / "e.srt", squeeze(SRT))
    res = dub(p / "e.srt", cast=p / "cast.yaml", out=p / "out")
    eng = next(iter(engines.registry._loaded.values()))
    assert eng.exact_mode == "stretcher" and eng.stats["stretched"] >= 1
    assert any("stretched" in n for n in res.facts.engine_notes)
    doc = json.loads((p / "out" / "plan.json").read_text(encoding="utf-8"))
    assert any("stretched" in n for n in doc["engine"]["notes"])
    c1 = next(c for c in res.clips if c.line.cue.id == "1")
    entry = next(e for e in res.plan.entries if e.index == c1.line.index)
    assert c1.length == entry.length and c1.speech_samples == entry.speech_samples     # the stretcher made it exact


# ---------------------------------------------------------------------------- determinism

def test_takes_are_deterministic_for_the_same_inputs(tmp_path, standin):
    import torch

    p = project(tmp_path)
    clip = refclip.read_clip(p / "mei.wav")
    req = Request("Nothing happened, I promise.", "ref", "en", reference=str(p / "mei.wav"), reference_hash=clip.hash)
    a = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite")).synthesize(req)
    torch.manual_seed(12345)            # someone else's draw in between changes nothing
    engines.registry._loaded.clear()
    b = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite")).synthesize(req)
    assert np.array_equal(a, b)
    c = engines.load("indextts2", checkpoints=str(p / "ck"),
                     conditioning_cache=str(p / "c.sqlite")).synthesize(replace(req, seed=7))
    assert not np.array_equal(a, c)


# ---------------------------------------------------------------------------- files, offline

def test_missing_files_are_listed_at_once_with_where_they_were_looked_for(tmp_path, standin):
    ck = indextts2_standin.checkpoints(tmp_path / "ck", "2", qwen=False)
    for name in ("gpt.pth", "feat2.pt"):
        (ck / name).unlink()
    shutil.rmtree(ck / "hf_cache" / "bigvgan")
    with pytest.raises(EngineConfigError) as err:
        engines.check("indextts2", {"checkpoints": str(ck), "emotion_text": True})
    (key, message), = err.value.problems
    assert key == "checkpoints"
    assert f"checkpoint folder {ck}" in message and f"auxiliary models folder {ck / 'hf_cache'}" in message
    for missing in ("gpt.pth", "feat2.pt", "qwen0.6bemo4-merge/", "bigvgan/config.json", "bigvgan/bigvgan_generator.pt"):
        assert missing in message
    assert "s2mel.pth" not in message and "hf download IndexTeam/IndexTTS-2 " in message
    # a separate auxiliary folder, flat or as a Hugging Face hub cache
    aux = tmp_path / "aux"
    snap = aux / "models--nvidia--bigvgan_v2_22khz_80band_256x" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    for f in ("config.json", "bigvgan_generator.pt"):
        (snap / f).write_bytes(b"x")
    for f in ("w2v-bert-2.0/config.json", "w2v-bert-2.0/preprocessor_config.json", "w2v-bert-2.0/model.safetensors",
              "campplus_cn_common.bin", "semantic_codec_model.safetensors"):
        (aux / f).parent.mkdir(parents=True, exist_ok=True)
        (aux / f).write_bytes(b"x")
    indextts2_standin.checkpoints(ck, "2")
    engines.check("indextts2", {"checkpoints": str(ck), "aux_dir": str(aux)})
    engines.load("indextts2", checkpoints=str(ck), aux_dir=str(aux), conditioning_cache=str(tmp_path / "c"))
    assert standin.calls("init")[0]["aux_paths"]["bigvgan"] == str(snap)


def test_problems_with_options_name_the_cast_line_and_field(tmp_path, standin):
    from indextts_dub.pipeline import read_inputs

    p = project(tmp_path)
    cast = (p / "cast.yaml").read_text().replace("  conditioning_cache: cond.sqlite\n",
                                                 "  conditioning_cache: cond.sqlite\n  precision: bf16\n  speeed: 2\n")
    write(p / "cast.yaml", cast)
    with pytest.raises(DubError) as err:
        read_inputs(p / "e.srt", p / "cast.yaml")
    where = {(pr.line, pr.field) for pr in err.value.problems}
    assert (5, "engine_options.precision") in where and (6, "engine_options.speeed") in where
    assert all(pr.file == str(p / "cast.yaml") for pr in err.value.problems)
    # the checkpoint folder resolves against the casting file's folder and is named when files miss
    (p / "ck" / "s2mel.pth").unlink()
    write(p / "cast.yaml", CAST.format(extra=""))
    with pytest.raises(DubError) as err:
        read_inputs(p / "e.srt", p / "cast.yaml")
    (pr,) = err.value.problems
    assert (pr.line, pr.field) == (3, "engine_options.checkpoints") and str(p / "ck") in pr.message
    assert "s2mel.pth" in pr.message


def test_the_demo_switches_engine_with_one_line_and_fails_fast_without_checkpoints(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    text = (demo / "cast.yaml").read_text(encoding="utf-8")
    assert text.count("engine: kokoro") == 1
    (demo / "cast.yaml").write_text(text.replace("engine: kokoro", "engine: indextts2"), encoding="utf-8")
    out = tmp_path / "out"
    r = run_cli("dub", demo / "episode.srt", "--cast", demo / "cast.yaml", "--video", demo / "clip.mp4", "-o", out,
                "--engine-option", f"checkpoints={tmp_path / 'no-checkpoints'}", cwd=tmp_path,
                env={"PYTHONPATH": ""})
    assert r.returncode == 2, r.stderr
    assert "--engine-option checkpoints" in r.stderr and "cannot load" in r.stderr
    for name in ("config.yaml", "gpt.pth", "s2mel.pth", "wav2vec2bert_stats.pt", "feat1.pt", "feat2.pt", "bpe.model",
                 "w2v-bert-2.0/model.safetensors", "semantic_codec_model.safetensors", "campplus_cn_common.bin",
                 "bigvgan/bigvgan_generator.pt"):
        assert name in r.stderr
    assert str(tmp_path / "no-checkpoints") in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".indextts-dub-staging*"))


def test_the_demo_runs_end_to_end_through_the_engine(tmp_path, standin):
    """The demo with its engine line switched, against the stand-in: every line exactly its slot."""
    from indextts_dub import dub

    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    text = (demo / "cast.yaml").read_text(encoding="utf-8").replace("engine: kokoro", "engine: indextts2")
    (demo / "cast.yaml").write_text(text, encoding="utf-8")
    indextts2_standin.checkpoints(demo / "checkpoints", "2")
    os.chdir(demo)       # the default checkpoint folder is ./checkpoints
    try:
        res = dub(demo / "episode.srt", cast=demo / "cast.yaml", video=demo / "clip.mp4", out=demo / "out",
                  engine_options={"conditioning_cache": str(tmp_path / "c.sqlite")})
    finally:
        os.chdir(REPO)
    assert len(res.clips) == 9 and (demo / "out" / "dubbed.mp4").exists()
    for c in res.clips:
        assert c.residual <= 1.0 + 1e-9 or c.speed == 1.0
    texts = {d["text"] for d in standin.calls("infer")}
    assert any("chong2" in t for t in texts)                # 重复 read chong2
    assert len({d["path"] for d in standin.calls("speaker_conditioning")}) == len(standin.calls("speaker_conditioning"))


def test_offline_by_default_and_downloads_only_when_asked(tmp_path, standin, monkeypatch):
    p = project(tmp_path, "2.5")
    monkeypatch.setenv("HF_HUB_CACHE", "/somewhere/mine")
    engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_HUB_CACHE"] == "/somewhere/mine"      # infer_v2_5 set it at import; put back
    # missing files with allow_download: index-tts's own downloader, asked once
    engines.registry._loaded.clear()
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(k)
    empty = tmp_path / "empty"
    empty.mkdir()
    engines.check("indextts2", {"checkpoints": str(empty), "model": "2", "allow_download": True})
    with pytest.raises(EngineConfigError):
        engines.check("indextts2", {"checkpoints": str(empty), "model": "2"})
    engines.load("indextts2", checkpoints=str(empty), model="2", allow_download=True,
                 conditioning_cache=str(p / "c.sqlite"))
    import indextts.utils.model_download as md

    assert md.CALLS == [("snapshot_download", "IndexTeam/IndexTTS-2", str(empty)),
                        ("ensure_models_available", str(empty))]
    assert "HF_HUB_OFFLINE" not in os.environ


def test_engine_options_on_the_command_line(tmp_path, standin):
    from indextts_dub.cli.dub import parse_engine_options as parse_cli

    assert parse_cli(["device=cuda:1", "precision=fp16", "allow_download=true", "interval_silence=150",
                      "generation={temperature: 0.7}"]) == {
        "device": "cuda:1", "precision": "fp16", "allow_download": True, "interval_silence": 150,
        "generation": {"temperature": 0.7}}
    with pytest.raises(DubError, match="KEY=VALUE"):
        parse_cli(["device"])
    p = project(tmp_path)
    r = run_cli("dub", p / "e.srt", "--cast", p / "cast.yaml", "-o", p / "out", "--engine-option", "precision=bf16",
                cwd=p)
    assert r.returncode == 2 and "--engine-option precision: precision: IndexTTS-2 runs fp32 or fp16" in r.stderr


# ---------------------------------------------------------------------------- bugs the real code showed

@pytest.mark.parametrize("imported_first", [True, False])
def test_the_pypi_build_reads_its_auxiliary_models_from_the_checkpoints_hub_cache_offline(
        tmp_path, standin, monkeypatch, imported_first):
    """indextts2-cli 1.0.2 has no aux_paths: it reaches the auxiliary models through huggingface_hub,
    whose cache folder and offline flag are fixed when it is first imported. Setting the environment
    afterwards changes nothing, so the adapter must set huggingface_hub's own constants."""
    import indextts._sim as sim

    monkeypatch.setattr(sim, "BUILD", "hub")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    p = project(tmp_path)
    shutil.rmtree(p / "ck" / "hf_cache")
    indextts2_standin.checkpoints(p / "ck", "2", aux="hub")
    if imported_first:          # another library of the process imported huggingface_hub already
        import huggingface_hub

        assert huggingface_hub.constants.HF_HUB_CACHE == str(tmp_path / "user-hf-cache")
        assert huggingface_hub.constants.HF_HUB_OFFLINE is False
    engines.check("indextts2", {"checkpoints": str(p / "ck")})
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    import huggingface_hub

    attempts = huggingface_hub.ATTEMPTS
    assert len(attempts) == 4
    for a in attempts:
        assert a["cache"] == str(p / "ck" / "hf_cache") and a["offline"] is True and a["found"], a
    # the process's own settings are put back once the model is built
    assert huggingface_hub.constants.HF_HUB_CACHE == str(tmp_path / "user-hf-cache")
    clip = refclip.read_clip(p / "mei.wav")
    x = eng.synthesize(Request("Hello.", "ref", "en", reference=str(p / "mei.wav"), reference_hash=clip.hash))
    assert x.size > 0


def test_the_pypi_build_lists_auxiliary_models_it_cannot_read_from_a_flat_folder(tmp_path, standin, monkeypatch):
    """Without aux_paths, index-tts reads the auxiliary models only from a hub cache: a flat folder
    (what newer builds take) is listed as missing instead of failing inside the model."""
    p = project(tmp_path)                      # flat hf_cache/
    (p / "ck" / "indextts_dub_build").write_text("")
    monkeypatch.setattr(indextts2.files, "index_tts_has_aux_paths", lambda: False)
    with pytest.raises(EngineConfigError) as err:
        engines.check("indextts2", {"checkpoints": str(p / "ck")})
    message = err.value.problems[0][1]
    assert "models--facebook--w2v-bert-2.0" in message and "hub cache" in message
    indextts2_standin.checkpoints(p / "ck", "2", aux="hub")
    engines.check("indextts2", {"checkpoints": str(p / "ck")})


def test_a_take_is_the_same_whether_its_conditioning_was_cached_or_not(tmp_path, standin):
    """w2v-BERT draws random numbers while it computes conditioning, which infer() does only when
    the conditioning is not cached: seeding before infer() made the same take differ on a re-run."""
    p = project(tmp_path)
    clip = refclip.read_clip(p / "mei.wav")
    req = Request("Nothing happened, I promise.", "ref", "en", reference=str(p / "mei.wav"), reference_hash=clip.hash)
    other = replace(req, text="Tell me the truth.")

    def fresh(cache: str):
        engines.registry._loaded.clear()
        return engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(tmp_path / cache))

    a = fresh("one.sqlite")
    computed = a.synthesize(req)               # conditioning computed inside infer()
    from_memory = a.synthesize(other)          # ... handed back from memory
    assert a.stats["conditioning_computed"] == 2 and a.stats["conditioning_from_memory"] >= 2
    b = fresh("one.sqlite")
    from_disk = b.synthesize(req)              # ... read from the store
    assert b.stats["conditioning_from_disk"] == 2 and b.stats["conditioning_computed"] == 0
    assert np.array_equal(computed, from_disk)
    c = fresh("two.sqlite")
    assert np.array_equal(c.synthesize(other), from_memory)
    # and the exact-length take does not depend on whether the GPT stage ran in this process
    n = audio.trim_silence(computed, 22_050).size
    exact_after_natural = b.synthesize(replace(req, target_samples=int(n * 0.85)))
    d = fresh("one.sqlite")
    exact_alone = d.synthesize(replace(req, target_samples=int(n * 0.85), natural_samples=n))
    assert np.array_equal(exact_after_natural, exact_alone)


@pytest.mark.parametrize("device,expected", [(None, "fp32"), ("cpu", "fp32"), ("cuda:0", "bf16")])
def test_the_precision_reported_is_the_one_the_model_runs(tmp_path, standin, monkeypatch, device, expected):
    """index-tts runs fp32 on the CPU whatever it is asked: model_id and notes say what it runs."""
    monkeypatch.setattr(indextts2, "default_device", lambda: "cpu")     # this machine: no GPU
    p = project(tmp_path, "2.5")
    opts = {"checkpoints": str(p / "ck"), "conditioning_cache": str(p / "c.sqlite")}
    if device:
        opts["device"] = device
    assert engines.describe("indextts2", opts).model_id.endswith(f"-{expected}")
    eng = engines.load("indextts2", **opts)
    assert eng.precision == expected and eng.info.model_id.endswith(f"-{expected}")
    note = next(n for n in eng.notes if "IndexTTS-2.5" in n)
    assert f", {expected}," in note and ("bf16" in note) == (expected == "bf16")
    monkeypatch.setattr(indextts2, "default_device", lambda: "cuda")
    assert engines.describe("indextts2", {"checkpoints": str(p / "ck")}).model_id.endswith("-bf16")


def test_index_tts_output_stays_off_the_terminal_unless_verbose(tmp_path, standin, capfd):
    p = project(tmp_path)
    clip = refclip.read_clip(p / "mei.wav")
    req = Request("Hello.", "ref", "en", reference=str(p / "mei.wav"), reference_hash=clip.hash)
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    eng.synthesize(req)
    out, err = capfd.readouterr()
    for said in ("Be patient", "starting inference", "Some weights", "stand-in mel steps"):
        assert said not in out and said not in err, (out, err)
    engines.registry._loaded.clear()
    loud = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"), verbose=True)
    loud.synthesize(replace(req, text="Hello again."))
    out, err = capfd.readouterr()
    assert "starting inference" in err and "stand-in mel steps" in err and "starting inference" not in out


def test_a_batch_is_rendered_by_speaker_clip_and_returned_in_order(tmp_path, standin):
    p = project(tmp_path)
    x, sr = sf.read(p / "mei.wav", dtype="float32")
    sf.write(p / "other.wav", np.concatenate([x[sr // 2:], x[: sr // 2]]) * 0.7, sr)     # another voice's clip
    clips = {n: refclip.read_clip(p / n) for n in ("mei.wav", "other.wav")}

    def req(text, n):
        return Request(text, "ref", "en", reference=str(p / n), reference_hash=clips[n].hash)

    reqs = [req("One.", "mei.wav"), req("Two.", "other.wav"), req("Three.", "mei.wav"), req("Four.", "other.wav")]
    eng = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(p / "c.sqlite"))
    batch = eng.synthesize_many(reqs)
    spoken = [d["text"] for d in standin.calls("infer")]
    assert spoken == ["One.", "Three.", "Two.", "Four."]        # one speaker clip after the other
    assert len(standin.calls("speaker_conditioning")) == 2 and eng.stats["batches"] == 1
    engines.registry._loaded.clear()
    single = engines.load("indextts2", checkpoints=str(p / "ck"), conditioning_cache=str(tmp_path / "c2.sqlite"))
    for r, x in zip(reqs, batch):
        assert np.array_equal(single.synthesize(r), x)
