"""Issue 12, what older versions left: an output folder without a manifest is adopted when it
holds only files named as a run's outputs, refused (nothing touched) when it mixes them with
other files; a file the user put where a new output goes is never replaced; an older take cache
(no mark, digests over the samples only) is migrated, its takes reused."""
from __future__ import annotations

import hashlib
import os

import pytest

from support.paths import REPO, run_cli, write
from indextts_dub.errors import DubError
from indextts_dub.pipeline import dry_run, dub
from indextts_dub.takes import cache as take_cache
from indextts_dub.takes.cache import TAG, TakeCache

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Good morning.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\nBob: 你好，我们开始吧。\n")
THIRD = "\n3\n00:00:04,500 --> 00:00:06,000\nAlice: And goodbye.\n"
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: low\n"
MANIFEST = ".indextts-dub-manifest.json"


def env(toy_engine) -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(toy_engine.SITE), str(REPO)])}


def files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)}


def older_outputs(tmp_path, toy_engine):
    """An output folder as an older version left it: the outputs, no manifest, no cache, and a
    muxed video from a run with --video that the next run (without one) no longer makes."""
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out, cache=False)
    (out / MANIFEST).unlink()
    (out / "dubbed.mkv").write_bytes(b"an old video with the old dialogue")
    (out / "editor" / "media").mkdir(parents=True, exist_ok=True)
    return srt, cast, out


# ---------------------------------------------------------------- output folders without a manifest

def test_an_older_versions_outputs_are_adopted_with_a_warning(tmp_path, toy_engine):
    srt, cast, out = older_outputs(tmp_path, toy_engine)
    decisions = dry_run(srt, cast=cast, out=out, cache=False)
    assert any("would be adopted as this run's own" in w for w in decisions.warnings), decisions.warnings
    res = run_cli("dub", srt, "--cast", cast, "-o", out, "--no-cache", "-q", env=env(toy_engine))
    assert res.returncode == 0, res.stderr
    assert "files named as outputs and no manifest (an older indextts-dub wrote them" in res.stdout   # the summary
    assert "adopted as this run's own" in res.stdout
    assert not (out / "dubbed.mkv").exists()                  # the stale video is gone with the old run
    assert (out / MANIFEST).exists() and (out / "dub.wav").exists()
    again = run_cli("dub", srt, "--cast", cast, "-o", out, "--no-cache", "-q", env=env(toy_engine))
    assert again.returncode == 0 and "adopted" not in again.stdout      # once: the manifest says it now


def test_outputs_mixed_with_other_files_and_no_manifest_are_left_alone(tmp_path, toy_engine, monkeypatch):
    srt, cast, out = older_outputs(tmp_path, toy_engine)
    write(out / "notes.txt", "the user's notes")
    before = files(out)
    decisions = dry_run(srt, cast=cast, out=out, cache=False)
    assert any(w.startswith("the run would stop:") and "no manifest" in w for w in decisions.warnings)
    monkeypatch.setattr(toy_engine.ToyEngine, "synthesize", lambda *a: pytest.fail("the engine was asked"))
    with pytest.raises(DubError) as err:
        dub(srt, cast=cast, out=out, cache=False)
    msg = str(err.value)
    assert f"{out}: --output: holds files named as indextts-dub's outputs (clips/0001_Alice.wav" in msg, msg
    assert "beside other files (notes.txt)" in msg and "nothing is touched" in msg
    assert files(out) == before
    assert not list(out.glob(".indextts-dub-staging-*"))


def test_the_users_project_folder_is_not_adopted(tmp_path, toy_engine):
    """Files of other names only (the demo's layout): nothing adopted, nothing refused."""
    write(tmp_path / "e.srt", SRT)
    write(tmp_path / "cast.yaml", CAST)
    (tmp_path / "clips").mkdir()
    write(tmp_path / "clips" / "mei_excited.wav", "the user's clip")
    res = run_cli("dub", "e.srt", "--cast", "cast.yaml", "-o", ".", "-q", cwd=tmp_path, env=env(toy_engine))
    assert res.returncode == 0 and "adopted" not in res.stdout, res.stderr
    assert (tmp_path / "clips" / "mei_excited.wav").read_text() == "the user's clip"


def test_a_users_file_where_a_new_output_goes_is_not_replaced(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    dub(srt, cast=cast, out=out)
    write(out / "clips" / "0003_Alice.wav", "the user's own take")     # where the next run's third line goes
    before = files(out)
    write(srt, SRT + THIRD)
    res = run_cli("dub", srt, "--cast", cast, "-o", out, "-q", env=env(toy_engine))
    assert res.returncode == 2, res.stderr
    assert "0003_Alice.wav: --output: exists and no earlier run placed it" in res.stderr
    assert "the run placed nothing" in res.stderr
    assert files(out) == before


# ---------------------------------------------------------------- take caches an older version made

def make_older(root) -> int:
    """Turn a cache into what an older version left: no mark, each record's digest over its samples only."""
    (root / TAG).unlink()
    n = 0
    for take in sorted(root.glob("*/*/*.take")):
        data = take.read_bytes()
        _, count, _ = take_cache.HEADER.unpack_from(data)
        payload = data[take_cache.HEADER.size:]
        take.write_bytes(take_cache.HEADER.pack(take_cache.OLD_MAGIC, count, hashlib.sha256(payload).digest())
                         + payload)
        n += 1
    return n


def test_an_older_cache_is_migrated_and_its_takes_reused(tmp_path, toy_engine, monkeypatch):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    first = dub(srt, cast=cast, out=out)
    root = out / ".indextts-dub-cache"
    n = make_older(root)
    damaged = sorted(root.glob("*/*/*.take"))[0]
    damaged.write_bytes(damaged.read_bytes()[:-8])             # one torn record
    reference = {k: v for k, v in files(out).items() if k.endswith(".wav")}
    write(root / "README", "the user's")              # anything else in it: not an older cache, refused
    with pytest.raises(DubError, match="is not a take cache made by indextts-dub"):
        TakeCache(root).check()
    (root / "README").unlink()
    # a dry run reads it as the run will, and changes nothing
    decisions = dry_run(srt, cast=cast, out=out)
    assert n == len(sorted(root.glob("*/*/*.take"))) and not (root / TAG).exists()
    res = dub(srt, cast=cast, out=out)
    assert any(f"{root}: a take cache an older indextts-dub made, migrated: {n - 1} takes kept, 1 damaged removed"
               in w for w in res.warnings), res.warnings
    assert (root / TAG).exists()
    assert all(t.read_bytes()[:8] == take_cache.MAGIC for t in root.glob("*/*/*.take"))
    assert (first.facts.synthesis_calls, res.facts.synthesis_calls) == (2, 1)      # only the torn take spoken again
    assert {k: v for k, v in files(out).items() if k.endswith(".wav")} == reference
    assert sorted(d.action for d in decisions.decisions) == ["reuse", "synthesize"]    # the dry run saw the same


def test_cache_clear_on_an_older_cache(tmp_path, toy_engine):
    srt, cast, out = write(tmp_path / "e.srt", SRT), write(tmp_path / "cast.yaml", CAST), tmp_path / "out"
    shared = tmp_path / "shared"
    dub(srt, cast=cast, out=out, cache=shared)
    n = make_older(shared)
    res = run_cli("cache", "clear", "--cache", shared)
    assert res.returncode == 0 and f"removed {n} takes" in res.stdout, res.stderr
    assert "a take cache an older indextts-dub made, migrated" in res.stderr
    assert not list(shared.glob("*/*/*.take")) and (shared / TAG).exists()
