"""The casting model: every voice form, every emotion form, bounds, gain, pan, inline
overrides, and the bad inputs, each named by file, line and field."""
from __future__ import annotations

import shutil

import pytest

from support import clips
from support.paths import write
from indextts_dub.lines import cast_cues, read_cast_file
from indextts_dub.cues import read_cues
from indextts_dub.engines import describe
from indextts_dub.errors import DubError
from indextts_dub.voices.library import Consent, Library
from indextts_dub.voices.resolve import resolve

INFO = describe("kokoro")


def KOKORO():
    from indextts_dub.engines import load

    return load("kokoro")
CONSENT = Consent("Test Speaker", "2026-11-25", "tests", "I agree to tests using my synthetic voice.")

SRT = """1
00:00:01,000 --> 00:00:03,000
Alice: Hello there, how are you?

2
00:00:03,500 --> 00:00:06,000
Bob: 我们今天要重复昨天的实验。

3
00:00:06,500 --> 00:00:09,000
Carol: {emotion=angry:0.8}I said no!

4
00:00:09,500 --> 00:00:12,000
[Dave] {emotion_text=whispering nervously}{alpha=0.7} Is anyone there?

5
00:00:12,500 --> 00:00:15,000
Alice: {voice=kokoro:jm_kumo}{speed=0.9-1.1}{\\i1}Fine{\\i0}, thanks.
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "voices").mkdir()
    (tmp_path / "clips").mkdir()
    shutil.copy(clips.speech("jf_nezumi"), tmp_path / "voices" / "bob.wav")
    clips.tone_speech(tmp_path / "clips" / "angry.wav", 2.0)
    with Library(tmp_path / "lib.sqlite", write=True) as lib:
        lib.add("carol", clips.speech("jm_kumo"), CONSENT)
    write(tmp_path / "e.srt", SRT)
    return tmp_path


FULL = """version: 1
engine: kokoro
default_voice: kokoro:jf_tebukuro
default_emotion: calm:0.2
voice_library: lib.sqlite
fit: {speed_min: 0.8, speed_max: 1.2}
characters:
  Alice:
    voice: kokoro:jf_alpha
    emotion: {happy: 0.6}
    speed: [0.9, 1.15]
    gain_db: -3
    pan: -0.5
  Bob:
    voice: {ref: voices/bob.wav}
    emotion: [0, 0.6, 0, 0, 0, 0, 0.2, 0]
  Carol:
    library: carol
    emotion_ref: clips/angry.wav
    emotion_alpha: 0.6
  Dave:
    voice: kokoro:0.5*jf_alpha+0.5*jm_kumo
    emotion_text: 严厉且带有压迫感地命令
"""


def run(project, text=FULL, srt="e.srt"):
    c = read_cast_file(write(project / "cast.yaml", text))
    voices, notes = resolve(c.voices(), c.file, INFO, KOKORO, c.voice_library)
    return c, cast_cues(read_cues(project / srt), c, INFO, voices=voices, bounds=c.speed_bounds), notes


def test_every_voice_and_emotion_form(project):
    c, result, notes = run(project)
    assert c.speed_bounds == (0.8, 1.2)
    by = {ln.cue.id: ln for ln in result.lines}
    alice, bob, carol, dave, alice2 = (by[k] for k in "12345")
    # voices: built-in, reference clip (matched to a built-in voice), library entry, blend
    assert alice.voice == "jf_alpha" and alice.voice_source == "kokoro:jf_alpha"
    assert bob.voice.startswith("jf_nezumi") or "jf_nezumi" in bob.voice
    assert "ref bob.wav -> kokoro:" in bob.voice_source and "similarity" in bob.voice_source
    assert bob.reference_hash and bob.reference is None           # kokoro cannot clone: no clip sent
    assert "jm_kumo" in carol.voice and "library carol" in carol.voice_source
    assert dave.voice == "0.5*jf_alpha+0.5*jm_kumo"
    assert any("Bob: ref bob.wav" in n and "IndexTTS2" in n for n in notes)
    rec = result.voices["Bob"]
    assert rec["form"] == "ref" and rec["match"]["similarity"] > 0.8 and len(rec["match"]["scores"]) == len(INFO.voices)
    assert result.voices["Carol"]["consent"]["who"] == "Test Speaker"
    # emotions: preset, vector, inline preset over a clip default, inline text with alpha
    assert alice.emotion.kind == "preset" and alice.emotion.vector[0] == 0.6
    assert bob.emotion.kind == "vector" and bob.emotion.vector == (0, 0.6, 0, 0, 0, 0, 0.2, 0)
    assert carol.emotion.kind == "preset" and carol.emotion.source == "e.srt:10"       # inline wins
    assert dave.emotion.kind == "text" and dave.emotion.text == "whispering nervously" and dave.emotion.alpha == 0.7
    assert alice2.voice == "jm_kumo" and alice2.speed_bounds == (0.9, 1.1) and alice2.speech_text == "Fine, thanks."
    assert alice.speed_bounds == (0.9, 1.15) and alice.gain_db == -3 and alice.pan == -0.5
    assert bob.speed_bounds is None
    # the warning about emotion comes once, not per line
    assert sum("cannot render emotion" in w for w in result.warnings) == 1


def test_emotion_ref_default_and_project_default(project):
    text = FULL.replace("Carol: {emotion=angry:0.8}", "Carol: ")
    write(project / "e.srt", SRT.replace("Carol: {emotion=angry:0.8}", "Carol: "))
    _, result, _ = run(project, text)
    carol = next(ln for ln in result.lines if ln.character == "Carol")
    assert carol.emotion.kind == "ref" and carol.emotion.alpha == 0.6 and carol.emotion.ref.endswith("angry.wav")
    no_emotion = FULL.replace("    emotion: [0, 0.6, 0, 0, 0, 0, 0.2, 0]\n", "")
    _, result, _ = run(project, no_emotion)
    bob = next(ln for ln in result.lines if ln.character == "Bob")
    assert bob.emotion.kind == "preset" and bob.emotion.presets == (("calm", 0.2),)


def test_short_forms_still_work(project):
    _, result, _ = run(project, "characters:\n  Alice: kokoro:jf_alpha\n  Bob: jm_kumo\n  Carol: jf_nezumi\n"
                                "  Dave:\n    voice: jf_tebukuro\n    cues: [4]\n")
    assert [ln.voice for ln in result.lines] == ["jf_alpha", "jm_kumo", "jf_nezumi", "jf_tebukuro", "jm_kumo"]


@pytest.mark.parametrize("edit, line, field, words", [
    (("{happy: 0.6}", "{furiousness: 0.6}"), 10, "characters.Alice.emotion", "unknown emotion preset 'furiousness'"),
    (("[0, 0.6, 0, 0, 0, 0, 0.2, 0]", "[0, 0.6, 0]"), 16, "characters.Bob.emotion", "exactly 8 values"),
    (("[0, 0.6, 0, 0, 0, 0, 0.2, 0]", "[0, 1.6, 0, 0, 0, 0, 0.2, 0]"), 16, "characters.Bob.emotion",
     "between 0 and 1"),
    (("emotion_alpha: 0.6", "emotion_alpha: 2"), 20, "characters.Carol.emotion_alpha", "between 0 and 1"),
    (("voices/bob.wav", "voices/missing.wav"), 15, "characters.Bob.voice.ref", "reference clip not found"),
    (("clips/angry.wav", "clips/none.wav"), 19, "characters.Carol.emotion_ref", "not found"),
    (("speed: [0.9, 1.15]", "speed: [0.7, 1.15]"), 11, "characters.Alice.speed", "outside the project's bounds"),
    (("speed: [0.9, 1.15]", "speed: [1.1, 0.9]"), 11, "characters.Alice.speed", "above max"),
    (("gain_db: -3", "gain_db: 40"), 12, "characters.Alice.gain_db", "between"),
    (("pan: -0.5", "pan: 2"), 13, "characters.Alice.pan", "between -1"),
    (("  Dave:\n", "  alice:\n"), 21, "characters.alice", "duplicate character name"),
    (("emotion_text: 严厉且带有压迫感地命令", "emotion_text: 严厉\n    emotion: sad"), 23, "characters.Dave.emotion_text",
     "give one emotion form"),
    (("library: carol", "library: carol\n    voice: jf_alpha"), 18, "characters.Carol.library", "give one voice"),
    (("fit: {speed_min: 0.8, speed_max: 1.2}", "fit: {speed_min: 1.1}"), 6, "fit.speed_min", "0.5 <= min <= 1"),
    (("fit: {speed_min: 0.8, speed_max: 1.2}", "fit: {speed_min: 0.8, speed_max: 50}"), 6, "fit.speed_max", "<= max <= 2"),
    (("default_emotion: calm:0.2", "default_emotion: calm:3"), 4, "default_emotion", "between 0 and 1"),
])
def test_bad_casting_values_name_file_line_and_field(project, edit, line, field, words):
    text = FULL.replace(*edit)
    assert text != FULL
    with pytest.raises(DubError) as err:
        read_cast_file(write(project / "cast.yaml", text))
    msg = str(err.value)
    assert f"cast.yaml:{line}: {field}:" in msg and words in msg, msg


@pytest.mark.parametrize("make, words", [
    (lambda p: clips.silent(p), "is silent"),
    (lambda p: clips.tone_speech(p, 1.5), "lasts only 1.5 s after trimming silence"),
    (lambda p: clips.tone_speech(p, 17.0), "cut it to at most 15 s"),
    (lambda p: clips.clipped(p), "is clipped"),
    (lambda p: clips.corrupt(p), "cannot read reference clip bob.wav as audio"),
    (lambda p: clips.write(p, clips.pink_noise(6.0)), "reference clip bob.wav holds no speech (voice activity "
     "detection, in 6.0 s: noise, music or silence are not a voice); a voice needs at least 2 s of speech"),
    (lambda p: clips.write(p, clips.music(8.0)), "holds no speech"),
])
def test_bad_reference_clips(project, make, words):
    make(project / "voices" / "bob.wav")
    with pytest.raises(DubError) as err:
        read_cast_file(write(project / "cast.yaml", FULL))
    msg = str(err.value)
    assert "cast.yaml:15: characters.Bob.voice.ref:" in msg and words in msg, msg


def test_stereo_clip_is_mixed_to_mono_and_resampled(project):
    clips.tone_speech(project / "clips" / "angry.wav", 4.0, sr=44_100, channels=2)
    c = read_cast_file(write(project / "cast.yaml", FULL))
    assert c.characters["Carol"].emotion.ref.endswith("angry.wav")


def test_unknown_library_entry_lists_known_ones(project):
    c = read_cast_file(write(project / "cast.yaml", FULL.replace("library: carol", "library: caroline")))
    with pytest.raises(DubError) as err:
        resolve(c.voices(), c.file, INFO, KOKORO, c.voice_library)
    msg = str(err.value)
    assert "cast.yaml:18: characters.Carol.library: no voice named 'caroline'" in msg and "known: carol" in msg


def test_missing_library(project):
    c = read_cast_file(write(project / "cast.yaml", FULL.replace("voice_library: lib.sqlite", "voice_library: no.sqlite")))
    with pytest.raises(DubError, match="cast.yaml:18: characters.Carol.library: library voice 'carol': no voice "
                                       "library here"):
        resolve(c.voices(), c.file, INFO, KOKORO, c.voice_library)


def test_denied_voice_is_refused_naming_the_entry_and_similarity(project):
    with Library(project / "lib.sqlite", write=True) as lib:
        lib.deny("Famous Anchor", clips.speech("jf_nezumi", "en"), "public figure")
    c = read_cast_file(write(project / "cast.yaml", FULL))
    with pytest.raises(DubError) as err:
        resolve(c.voices(), c.file, INFO, KOKORO, c.voice_library)
    msg = str(err.value)
    assert "cast.yaml:15: characters.Bob.voice.ref: ref bob.wav is too similar to the denied voice 'Famous Anchor'" \
        in msg and "public figure" in msg, msg
    sim = float(msg.split("(similarity ")[1].split(",")[0])
    assert 0.75 <= sim <= 1.0


@pytest.mark.parametrize("tag, field, words", [
    ("{emotion=furiousness}", "{emotion}", "unknown emotion preset"),
    ("{emotion=[0,1,0]}", "{emotion}", "exactly 8 values"),
    ("{emotion=angry:2}", "{emotion}", "between 0 and 1"),
    ("{emotoin=angry}", "{emotoin}", "unknown inline tag"),
    ("{voice=kokoro:af_nobody}", "{voice}", "unknown voice 'kokoro:af_nobody'"),
    ("{speed=fast}", "{speed}", "min-max"),
    ("{speed=0.5-1.1}", "speed", "must lie inside"),
    ("{emotion_ref=nothing.wav}", "{emotion_ref}", "not found"),
    ("{emotion=sad}{emotion_text=sadly}", "{emotion_text}", "one emotion form"),
    ("{lang=fr}", "{lang}", "not one of en, zh"),
])
def test_bad_inline_tags_name_the_subtitle_line(project, tag, field, words):
    write(project / "bad.srt", f"1\n00:00:01,000 --> 00:00:03,000\nAlice: {tag}Hello there.\n")
    c = read_cast_file(write(project / "cast.yaml", "characters:\n  Alice: jf_alpha\n"))
    with pytest.raises(DubError) as err:
        cast_cues(read_cues(project / "bad.srt"), c, INFO)
    msg = str(err.value)
    assert f"bad.srt:2: {field}:" in msg and words in msg, msg


def test_inline_tags_in_ass_stay_apart_from_override_tags(project):
    ass = ("[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n"
           "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
           "Dialogue: 0,0:00:01.00,0:00:03.00,Default,Alice,0,0,0,,{\\i1}{emotion=sad:0.5}Oh no{\\i0}, "
           "{emotion_ref=clips/angry.wav}\n")
    write(project / "e.ass", ass)
    c = read_cast_file(write(project / "cast.yaml", "characters:\n  Alice: jf_alpha\n"))
    with pytest.raises(DubError, match="one emotion form per line"):
        cast_cues(read_cues(project / "e.ass"), c, INFO)
    write(project / "e.ass", ass.replace("{emotion_ref=clips/angry.wav}", "{alpha=0.5}"))
    with pytest.raises(DubError, match="alpha goes with emotion_ref or emotion_text"):
        cast_cues(read_cues(project / "e.ass"), c, INFO)
    write(project / "e.ass", ass.replace("{emotion_ref=clips/angry.wav}", ""))
    ln = cast_cues(read_cues(project / "e.ass"), c, INFO).lines[0]
    assert ln.speech_text == "Oh no," and ln.emotion.presets == (("sad", 0.5),)
