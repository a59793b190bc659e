"""Issue 12, bad input and blame: every message names where the value came from (a flag or the
casting file's line); the machine's limits (a small or read-only disk) are messages too."""
from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from support import clips
from support.paths import REPO, run_cli, write
from indextts_dub.errors import DubError
from indextts_dub.lines import read_cast_file
from indextts_dub.pipeline import dry_run, dub
from indextts_dub.voices.library import Consent, Library

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Hello there.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\nBob: 你好，我们开始吧。\n")
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: low\n"


def env(toy_engine) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(toy_engine.SITE), str(REPO)])}


def project(tmp_path, cast: str = CAST, srt: str = SRT):
    return write(tmp_path / "e.srt", srt), write(tmp_path / "cast.yaml", cast)


# ---------------------------------------------------------------- speed bounds and where they came from

@pytest.mark.parametrize("flags, message", [
    (["--speed-min", "0.1", "--fill"], "--speed-min: speed bounds must satisfy 0.5 <= min <= 1 <= max <= 2"),
    (["--speed-max", "inf"], "--speed-max: speed bounds must satisfy 0.5 <= min <= 1 <= max <= 2"),
    (["--speed-max", "nan"], "--speed-max: speed bounds must satisfy"),
])
def test_speed_flags_outside_what_listeners_tolerate(tmp_path, toy_engine, flags, message):
    srt, cast = project(tmp_path)
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "out", "-q", *flags, env=env(toy_engine))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fit, field", [("{speed_max: 50}", "fit.speed_max"), ("{speed_min: 0.1}", "fit.speed_min")])
def test_cast_speed_bounds_outside_what_listeners_tolerate(tmp_path, fit, field):
    cast = write(tmp_path / "cast.yaml", f"engine: kokoro\nfit: {fit}\ncharacters:\n  Alice: jf_alpha\n")
    with pytest.raises(DubError, match=rf"cast.yaml:2: {field}: speed bounds must satisfy 0.5 <= min"):
        read_cast_file(cast)


def test_a_fast_cast_bound_is_not_blamed_on_a_flag_never_given(tmp_path, toy_engine):
    srt, cast = project(tmp_path, CAST + "fit:\n  speed_max: 1.6\n")
    res = dub(srt, cast=cast, out=tmp_path / "out")
    assert res.facts.programme > 0
    bad = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "out2", "-q", "--compress-cap", "1.4", env=env(toy_engine))
    assert bad.returncode == 2
    assert "--compress-cap: must be at least the fastest speed 1.6 (" in bad.stderr
    assert "cast.yaml:6: fit.speed_max)" in bad.stderr, bad.stderr


# ---------------------------------------------------------------- the engine and its options

def test_an_unknown_engine_flag_blames_the_flag(tmp_path, toy_engine):
    srt, cast = project(tmp_path)
    res = run_cli("dub", srt, "--cast", cast, "--engine", "nosuch", "-o", tmp_path / "out", "-q", env=env(toy_engine))
    assert res.returncode == 2 and "--engine: " in res.stderr and "cast.yaml:1" not in res.stderr, res.stderr


def test_engine_options_are_checked_up_front_even_when_every_take_is_cached(tmp_path, toy_engine):
    srt, cast = project(tmp_path)
    out = tmp_path / "out"
    dub(srt, cast=cast, out=out)
    with pytest.raises(DubError, match=r"--engine-option explode: explode: 3 is not true or false"):
        dub(srt, cast=cast, out=out, engine_options={"explode": 3})
    cast2 = write(tmp_path / "cast2.yaml", CAST + "engine_options:\n  explode: -1\n")
    with pytest.raises(DubError, match=r"cast2.yaml:6: engine_options.explode: explode: -1 is not true or false"):
        dub(srt, cast=cast2, out=out)


def test_kokoro_threads_must_be_a_positive_count():
    from indextts_dub import engines

    with pytest.raises(engines.EngineConfigError, match="threads: -2 is not a number of threads"):
        engines.check("kokoro", {"threads": -2})
    with pytest.raises(engines.EngineConfigError, match="threads: 'many' is not a whole number"):
        engines.check("kokoro", {"threads": "many"})


# ---------------------------------------------------------------- casting

def test_a_speaker_and_only_a_tag(tmp_path, toy_engine):
    srt, cast = project(tmp_path, srt=SRT + "\n3\n00:00:05,000 --> 00:00:06,000\nAlice: {emotion=happy}\n")
    with pytest.raises(DubError, match=r"e.srt:\d+: text: gives the speaker 'Alice' and inline tags but no words"):
        dub(srt, cast=cast, out=tmp_path / "out")


def test_a_symlink_loop_as_a_reference_clip(tmp_path):
    os.symlink("loop.wav", tmp_path / "loop.wav")
    cast = write(tmp_path / "cast.yaml", "engine: kokoro\ncharacters:\n  Mei:\n    voice: {ref: loop.wav}\n")
    with pytest.raises(DubError, match=r"cast.yaml:4: characters.Mei.voice.ref: .*symbolic link that leads nowhere"):
        read_cast_file(cast)


# ---------------------------------------------------------------- the voice library

def test_a_consent_date_must_be_a_date(tmp_path):
    clip = shutil.copy(clips.speech("jm_kumo"), tmp_path / "v.wav")
    res = run_cli("voices", "add", "v", clip, "--consent", "agreed", "--date", "not-a-date",
                  "--library", tmp_path / "lib.sqlite")
    assert res.returncode == 2 and "--date: 'not-a-date' is not a date" in res.stderr


def test_two_adds_of_one_name_at_once(tmp_path, monkeypatch):
    clip = shutil.copy(clips.speech("jm_kumo"), tmp_path / "v.wav")
    path = tmp_path / "lib.sqlite"
    consent = Consent("V", "2026-11-20", "dubbing", "agreed")
    with Library(path, write=True) as first, Library(path, write=True) as second:
        real_get = second.get
        monkeypatch.setattr(second, "get", lambda name: None)      # it looked before the first one wrote
        first.add("v", clip, consent)
        with pytest.raises(DubError, match="a voice named 'v' was added to the library meanwhile"):
            second.add("v", clip, consent)
        assert real_get("v") is not None


# ---------------------------------------------------------------- a stray cue, a small disk, a read-only disk

STRAY = SRT + "\n3\n99:59:58,000 --> 99:59:59,000\nAlice: Stray.\n"


def test_a_stray_cue_is_a_warning_and_dry_run_says_so(tmp_path, toy_engine):
    srt, cast = project(tmp_path, srt=STRAY)
    decisions = dry_run(srt, cast=cast, out=tmp_path / "out")
    assert any("the programme runs to 99:59:59" in w and "e.srt:" in w for w in decisions.warnings), decisions.warnings
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "out", "--dry-run", env=env(toy_engine))
    assert res.returncode == 0 and "warning: " in res.stderr and "99:59:59" in res.stderr     # messages on stderr


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_small_disk_is_said_before_the_synthesis(small_disk, tmp_path, toy_engine, monkeypatch):
    from indextts_dub.errors import SystemFault

    srt, cast = project(tmp_path, srt=STRAY)
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize", lambda *a: pytest.fail("the engine was asked"))
    with pytest.raises(SystemFault, match=rf"no space left on {small_disk}: \d+ MB needed for the outputs"):
        dub(srt, cast=cast, out=small_disk / "out", cache=False)
    assert not list((small_disk / "out").glob(".indextts-dub-staging-*"))


def test_a_read_only_output(small_disk, tmp_path, toy_engine):
    srt, cast = project(tmp_path)
    out = small_disk / "out"
    assert run_cli("dub", srt, "--cast", cast, "-o", out, "--no-cache", "-q", env=env(toy_engine)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    res = run_cli("dub", srt, "--cast", cast, "-o", out, "--no-cache", "-q", env=env(toy_engine))
    assert res.returncode == 2 and "--output: cannot write the output folder: Read-only file system" in res.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def _fill(folder: Path) -> Path:
    """Something else fills the disk: write until the file system says it is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _outputs(out: Path) -> dict[Path, bytes]:
    """The run's outputs and its manifest (not the take cache, the lock or the mix record, which
    describe work, not outputs)."""
    return {p: p.read_bytes() for p in out.rglob("*")
            if p.is_file() and not any(part.startswith(".") and part != ".indextts-dub-manifest.json"
                                       for part in p.relative_to(out).parts)}


@pytest.mark.parametrize("stage, what", [
    ("natural_takes", "the outputs"),          # the takes wait in the run's spill, in the output folder
    ("fitted_clips", "the outputs"),
    ("deliver_staged", "the outputs"),         # soundfile's "System error." on a full disk
    ("commit", "the outputs"),                 # the commit's journal cannot be written
])
def test_a_disk_filled_mid_run(small_disk, tmp_path, toy_engine, monkeypatch, capsys, stage, what):
    """The free-space check passed, then something else filled the disk: one line with the
    figure, exit 3, the previous outputs byte-identical, nothing of the failed run left."""
    from indextts_dub import cli, fsio, pipeline

    srt, cast = project(tmp_path)
    out = small_disk / "out"
    args = ["dub", str(srt), "--cast", str(cast), "-o", str(out), "-q"]
    assert cli.main(args) == 0
    before = _outputs(out)
    write(srt, SRT.replace("Hello there.", "Hello there, again."))
    owner, name = (fsio.Staging, "commit") if stage == "commit" else (pipeline, stage)
    real = getattr(owner, name)

    def filled(*a, **kw):
        _fill(small_disk)
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, filled)
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    folder = out / ".indextts-dub-cache" if what == "the take cache" else out
    assert re.fullmatch(rf"error: no space left on {small_disk}: \d+ MB needed for {what} in {folder}, \d+ MB free; "
                        r"the previous outputs are unchanged; free some space and run again\n", err), err
    assert _outputs(out) == before
    assert not list(out.glob(".indextts-dub-staging-*")) and not list(out.rglob(fsio.TEMP_GLOB))
    (small_disk / "filler").unlink()
    monkeypatch.setattr(owner, name, real)
    assert cli.main(args) == 0 and _outputs(out) != before         # with the space back, the run goes through


def test_a_mount_point_inside_the_output_is_refused_before_anything_moves(tmp_path, toy_engine):
    """``stems/`` is another file system (a mount point): a rename there cannot be atomic, so the
    run stops before the first rename, naming it, and the previous outputs stay as they were."""
    from indextts_dub.errors import DubError

    srt, cast = project(tmp_path)
    out = tmp_path / "out"
    dub(srt, cast=cast, out=out, cache=False)
    before = _outputs(out)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(out / "stems")],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
    try:
        write(srt, SRT.replace("Hello there.", "Hello there, again."))
        with pytest.raises(DubError, match=r"stems: --output: is on another file system than the output folder "
                                           r"\(a mount point\); the run placed nothing"):
            dub(srt, cast=cast, out=out, cache=False)
        assert not list((out / "stems").iterdir())            # nothing went onto the mount
    finally:
        subprocess.run(["umount", "-l", str(out / "stems")], capture_output=True)
    assert _outputs(out) == before
    assert not list(out.glob(".indextts-dub-staging-*"))


def test_a_cache_on_a_full_disk_is_said_before_the_engine_loads(small_disk, tmp_path, toy_engine, monkeypatch):
    """``--cache`` on a full disk: refused with the figure before anything is spoken; once every
    take is stored, the same full disk is no obstacle (nothing new goes into the cache)."""
    from indextts_dub.errors import SystemFault

    srt, cast = project(tmp_path)
    cache = small_disk / "cache"
    dub(srt, cast=cast, out=tmp_path / "first", cache=cache)          # every take stored
    filler = _fill(small_disk)
    assert dub(srt, cast=cast, out=tmp_path / "again", cache=cache).facts.synthesis_calls == 0
    write(srt, SRT.replace("Hello there.", "Hello there, again."))
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize", lambda *a: pytest.fail("the engine was asked"))
    with pytest.raises(SystemFault, match=rf"no space left on {small_disk}: \d+ MB needed for the new takes of the "
                                          rf"take cache in {cache}, 0 MB free; free some space"):
        dub(srt, cast=cast, out=tmp_path / "third", cache=cache)
    assert not (tmp_path / "third").exists()
    filler.unlink()


def test_a_cache_on_a_read_only_mount_is_said_before_the_engine_loads(small_disk, tmp_path, toy_engine, monkeypatch):
    srt, cast = project(tmp_path)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize", lambda *a: pytest.fail("the engine was asked"))
    with pytest.raises(DubError, match=rf"{small_disk}/cache: --cache: cannot be used as the take cache: "
                                       r"Read-only file system"):
        dub(srt, cast=cast, out=tmp_path / "out", cache=small_disk / "cache")
    assert not (tmp_path / "out").exists()
