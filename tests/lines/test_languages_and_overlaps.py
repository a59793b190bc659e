"""Casting decides each line's language from its letters and refuses (or, asked to, skips)
lines the engine cannot speak, each named; cues that name no speaker and overlap are given
to different voices by overlap layer; one character's overlaps are warnings unless strict."""
from __future__ import annotations

import pytest

from indextts_dub.cues import read_cues
from indextts_dub.engines import describe
from indextts_dub.errors import DubError
from indextts_dub.lines import cast_cues, read_cast_file
from support.paths import write

INFO = describe("kokoro")          # speaks en and zh
CAST = "engine: kokoro\ndefault_voice: kokoro:jf_tebukuro\ncharacters:\n  Alice: kokoro:jf_alpha\n"


def _srt(tmp_path, texts, times=None):
    times = times or [(i * 2000 + 100, i * 2000 + 1900) for i in range(len(texts))]
    body = ""
    for n, ((a, b), t) in enumerate(zip(times, texts), start=1):
        body += f"{n}\n00:00:{a // 1000:02d},{a % 1000:03d} --> 00:00:{b // 1000:02d},{b % 1000:03d}\n{t}\n\n"
    return read_cues(write(tmp_path / "ep.srt", body))


MIXED = ["Hello there.", "Привет, как дела?", "早上好。", "今日は雨ですね。", "مرحبا بكم", "Alice: Fine."]


def test_lines_in_languages_the_engine_cannot_speak_are_refused_each_named(tmp_path):
    cues = _srt(tmp_path, MIXED)
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    with pytest.raises(DubError) as err:
        cast_cues(cues, cast, INFO)
    problems = err.value.problems
    assert [(p.line, p.field) for p in problems] == [(6, "text"), (14, "text"), (18, "text")]
    assert "Russian (Cyrillic script), which the kokoro engine cannot speak (it speaks en, zh)" in problems[0].message
    assert "Japanese" in problems[1].message and "Arabic" in problems[2].message
    assert all("--skip-unspeakable" in p.message for p in problems)


def test_skip_unspeakable_skips_and_lists_them(tmp_path):
    cues = _srt(tmp_path, MIXED)
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, cast, INFO, skip_unspeakable=True)
    assert [(ln.text, ln.language) for ln in result.lines] == [("Hello there.", "en"), ("早上好。", "zh"),
                                                             ("Fine.", "en")]
    assert [(s.cue.line, s.reason.split(",")[0]) for s in result.skipped] == [
        (6, "written in Russian (Cyrillic script)"), (14, "written in Japanese (kana and kanji)"),
        (18, "written in Arabic (Arabic script)")]


def test_speakerless_overlaps_are_spoken_by_voices_per_layer(tmp_path):
    # 1 and 2 overlap; 3 overlaps both; 4 starts after 1 ends: back on the first layer
    times = [(0, 3000), (1000, 4000), (2000, 5000), (3000, 3500), (6000, 7000)]
    cues = _srt(tmp_path, ["One.", "Two.", "Three.", "Four.", "Five."], times)
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    for strict in (False, True):                       # different voices: nothing to refuse, even strict
        result = cast_cues(cues, cast, INFO, strict=strict)
        got = [(ln.text, ln.character, ln.voice) for ln in result.lines]
        # the spare voices: the engine's in its order (af_heart, am_michael, ...), minus the default
        # (jf_tebukuro) and the cast's (jf_alpha)
        assert got == [("One.", "Narrator", "jf_tebukuro"), ("Two.", "Narrator 2", "af_heart"),
                       ("Three.", "Narrator 3", "am_michael"), ("Four.", "Narrator", "jf_tebukuro"),
                       ("Five.", "Narrator", "jf_tebukuro")]
        assert result.voices["Narrator 2"]["voice"] == "kokoro:af_heart"
        assert any("cues that name no speaker overlap: 1 spoken by Narrator 2" in w for w in result.warnings)
        assert not any("starts before" in w for w in result.warnings)


def test_named_cues_keep_their_character_when_they_overlap(tmp_path):
    cues = _srt(tmp_path, ["Alice: One.", "Alice: Two.", "Nobody named."], [(0, 3000), (1000, 4000), (1500, 2500)])
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, cast, INFO)
    assert [ln.character for ln in result.lines] == ["Alice", "Alice", "Narrator"]
    assert any("Alice's cue starts before" in w and "--strict" in w for w in result.warnings)
    with pytest.raises(DubError) as err:
        cast_cues(cues, cast, INFO, strict=True)
    assert "ep.srt:6: start: Alice's cue starts before their previous cue (line 2) ends" in str(err.value)


def test_dash_dialogue_that_names_nobody_alternates_voices(tmp_path):
    # a dash cue holds two people by definition: its second part never shares the first's voice;
    # a third part goes back to the first voice; a plain cue after it is the default voice again
    cues = _srt(tmp_path, ["- Who's there?\n- Only me.", "- Are you sure?\n- Yes.\n- Good.", "Silence."])
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, cast, INFO)
    got = [(ln.text, ln.character, ln.voice) for ln in result.lines]
    assert got == [("Who's there?", "Narrator", "jf_tebukuro"), ("Only me.", "Narrator 2", "af_heart"),
                   ("Are you sure?", "Narrator", "jf_tebukuro"), ("Yes.", "Narrator 2", "af_heart"),
                   ("Good.", "Narrator", "jf_tebukuro"), ("Silence.", "Narrator", "jf_tebukuro")]
    assert any("dash dialogue that names no speaker alternates voices: 2 spoken by Narrator 2" in w
               for w in result.warnings)
    assert not any("overlap" in w for w in result.warnings)


def test_dash_dialogue_with_a_named_half_keeps_the_name(tmp_path):
    cues = _srt(tmp_path, ["- Alice: Who's there?\n- Only me.", "Alice: Again."])
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, cast, INFO)
    assert [(ln.text, ln.character) for ln in result.lines] == [("Who's there?", "Alice"), ("Only me.", "Narrator"),
                                                                ("Again.", "Alice")]


FRENCH = ["Je ne sais pas ce que tu veux dire.", "Règle numéro un : pas touche.", "On se retrouve demain matin ?",
          "Il faut partir avant la nuit.", "Oui, bien sûr.", "Tu es sûr qu'il viendra ?"]


def test_a_file_whose_latin_lines_are_french_is_not_spoken_as_english(tmp_path):
    cues = _srt(tmp_path, FRENCH)
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    with pytest.raises(DubError) as err:
        cast_cues(cues, cast, INFO)
    problems = err.value.problems
    assert [p.line for p in problems] == [2, 6, 10, 14, 18, 22]
    assert all("written in French (Latin script), which the kokoro engine cannot speak" in p.message for p in problems)
    result = cast_cues(cues, cast, INFO, skip_unspeakable=True)
    assert not result.lines and len(result.skipped) == 6
    assert any("read as French" in w for w in result.warnings)


def test_a_characters_language_decides_over_the_files(tmp_path):
    cues = _srt(tmp_path, [f"Alice: {t}" for t in FRENCH])
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST.replace("Alice: kokoro:jf_alpha",
                                                                     "Alice: {voice: kokoro:af_heart, language: en}")))
    result = cast_cues(cues, cast, INFO)
    assert {ln.language for ln in result.lines} == {"en"} and len(result.lines) == 6


def test_short_english_lines_stay_english(tmp_path):
    # a quarter of English dialogue is its commonest words: the language model is not even loaded
    english = ["Where were you last night?", "Tell me the truth.", "No way!", "Okay.", "Come on, let's go!",
               "I don't know what you mean.", "Is it over?", "Fine.", "What is that noise?", "Help me with this."]
    cues = _srt(tmp_path, english)
    cast = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, cast, INFO)
    assert {ln.language for ln in result.lines} == {"en"} and len(result.lines) == 10
    assert not any("read as" in w for w in result.warnings)


def test_the_second_voice_of_mandarin_dash_dialogue_speaks_mandarin(tmp_path):
    cues = _srt(tmp_path, ["- 谁啊？\n- 是我，快开门。", "你怎么才来？"])
    cast = read_cast_file(write(tmp_path / "cast.yaml", "engine: kokoro\ndefault_voice: kokoro:zf_xiaobei\n"))
    result = cast_cues(cues, cast, INFO)
    voices = {v.id: v for v in INFO.voices}
    assert [ln.character for ln in result.lines] == ["Narrator", "Narrator 2", "Narrator"]
    assert all("zh" in voices[ln.voice].languages for ln in result.lines)
    assert result.lines[0].voice != result.lines[1].voice
