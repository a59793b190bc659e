"""The casting file and casting cues into lines."""
from __future__ import annotations

import pytest

from support.paths import write
from indextts_dub.lines import cast_cues, read_cast_file
from indextts_dub.cues import read_cues
from indextts_dub.engines import describe
from indextts_dub.errors import DubError

INFO = describe("kokoro")

SRT = """1
00:00:01,000 --> 00:00:02,000
Alice: Hello.

2
00:00:02,500 --> 00:00:04,000
Bob: 我有2个苹果。

3
00:00:04,500 --> 00:00:05,000
♪ ♪

4
00:00:05,500 --> 00:00:07,000
Nobody told me.
"""

CAST = """engine: kokoro
default_voice: kokoro:jf_tebukuro
characters:
  Alice:
    voice: kokoro:jf_alpha
    language: en
  Bob: jm_kumo
"""


def test_cast_lines_voices_languages_and_skips(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, c, INFO)
    assert [(ln.index, ln.character, ln.voice, ln.language) for ln in result.lines] == [
        (1, "Alice", "jf_alpha", "en"), (2, "Bob", "jm_kumo", "zh"), (3, "Narrator", "jf_tebukuro", "en")]
    assert result.lines[1].speech_text == "我有两个苹果。"
    assert [(s.cue.id, s.reason) for s in result.skipped] == [("3", "music cue")]


def test_cue_numbers_assign_characters(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST + "  Carol:\n    voice: jf_nezumi\n    cues: [4]\n"))
    result = cast_cues(cues, c, INFO)
    assert result.lines[-1].character == "Carol"


def test_aliases_are_case_insensitive(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", "1\n00:00:01,000 --> 00:00:02,000\nteacher wang: 好。\n"))
    c = read_cast_file(write(tmp_path / "cast.yaml", "characters:\n  王老师:\n    voice: jm_kumo\n    aliases: [Teacher Wang]\n"))
    assert cast_cues(cues, c, INFO).lines[0].character == "王老师"


def test_unknown_speaker_without_default_lists_known_characters(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST.replace("default_voice: kokoro:jf_tebukuro\n", "")))
    with pytest.raises(DubError) as err:
        cast_cues(cues, c, INFO)
    msg = str(err.value)
    assert "e.srt:14: text: this cue names no speaker" in msg
    assert "known characters: Alice, Bob" in msg


def test_unknown_named_speaker_uses_default_with_a_warning(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", "1\n00:00:01,000 --> 00:00:02,000\nZed: hi there\n\n"
                                               "2\n00:00:03,000 --> 00:00:04,000\nZed: bye\n"))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    result = cast_cues(cues, c, INFO)
    assert result.lines[0].character == "Zed" and result.lines[0].voice == "jf_tebukuro"
    assert result.lines[0].speech_text == "hi there"
    assert any("'Zed' is not in the cast" in w for w in result.warnings)


def test_unknown_voice_lists_available_voices(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST.replace("jm_kumo", "af_nobody")))
    with pytest.raises(DubError) as err:
        cast_cues(cues, c, INFO)
    msg = str(err.value)
    assert "cast.yaml:7: characters.Bob.voice: unknown voice 'af_nobody'" in msg
    assert "kokoro:af_heart" in msg and "kokoro:jm_kumo" in msg


def test_overlapping_cues_of_one_character(tmp_path):
    srt = ("1\n00:00:01,000 --> 00:00:03,000\nAlice: one\n\n"
           "2\n00:00:02,000 --> 00:00:04,000\nAlice: two\n\n"
           "3\n00:00:02,500 --> 00:00:04,000\nBob: overlapping another character is fine\n")
    cues = read_cues(write(tmp_path / "o.srt", srt))
    c = read_cast_file(write(tmp_path / "cast.yaml", CAST))
    with pytest.raises(DubError) as err:
        cast_cues(cues, c, INFO, strict=True)
    assert "o.srt:6: start: Alice's cue starts before their previous cue (line 2) ends" in str(err.value)
    result = cast_cues(cues, c, INFO)
    assert len(result.lines) == 3
    assert [w for w in result.warnings if "starts before" in w] == [
        f"{tmp_path / 'o.srt'}:6: start: Alice's cue starts before their previous cue (line 2) ends; one voice "
        "cannot say two lines at once (the earlier line is fitted to end first; --strict refuses this)"]


@pytest.mark.parametrize("text, line, field, words", [
    ("characters:\n  Alice:\n    voic: jf_alpha\n", 3, "characters.Alice.voic", "unknown field"),
    ("characters:\n  Alice:\n    language: fr\n    voice: jf_alpha\n", 3, "characters.Alice.language", "not one of"),
    ("characters:\n  Alice: [1, 2]\n", 2, "characters.Alice", "must be a voice name"),
    ("characters:\n  Alice:\n    voice: jf_alpha\n    cues: [1, x]\n", 4, "characters.Alice.cues", "not a cue number"),
    ("voices: {}\n", 1, "voices", "unknown field"),
    ("characters:\n  Alice: jf_alpha\n  Alice: jm_kumo\n", 3, "Alice", "appears twice"),
    ("characters:\n  Alice: [unclosed\n", 3, None, "not valid YAML"),
])
def test_bad_casting_files_name_line_and_field(tmp_path, text, line, field, words):
    path = write(tmp_path / "cast.yaml", text)
    with pytest.raises(DubError) as err:
        read_cast_file(path)
    msg = str(err.value)
    where = f"cast.yaml:{line}: {field}:" if field else f"cast.yaml:{line}:"
    assert where in msg and words in msg, msg


def test_empty_and_missing_casting_files(tmp_path):
    with pytest.raises(DubError, match="the casting file is empty"):
        read_cast_file(write(tmp_path / "cast.yaml", ""))
    with pytest.raises(DubError, match="file not found"):
        read_cast_file(tmp_path / "missing.yaml")


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\ncharacters:\n  Alice: *a9\n")
    with pytest.raises(DubError, match="bomb.yaml:1: expands to more than"):
        read_cast_file(bomb)
    loop = write(tmp_path / "loop.yaml", "characters: &c\n  Alice: *c\n")
    with pytest.raises(DubError, match="loop.yaml:2: nested more than"):
        read_cast_file(loop)
    huge = write(tmp_path / "huge.yaml", "characters:\n" + "# padding\n" * 500_000)
    with pytest.raises(DubError, match="a casting file over 4 MB is refused"):
        read_cast_file(huge)


def test_a_character_without_a_voice_gets_a_native_one_for_its_language(tmp_path):
    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", "characters:\n  Alice:\n    language: en\n  Bob: {}\n"
                                                      "  Nobody:\n    cues: [3, 4]\n"))
    result = cast_cues(cues, c, INFO)
    assert [(ln.character, ln.voice, ln.language) for ln in result.lines] == [
        ("Alice", "af_heart", "en"), ("Bob", "zf_xiaobei", "zh"), ("Nobody", "af_heart", "en")]
    assert "native zh voice" in result.lines[1].voice_source


def test_an_engine_without_voices_still_needs_one(tmp_path):
    import dataclasses

    cues = read_cues(write(tmp_path / "e.srt", SRT))
    c = read_cast_file(write(tmp_path / "cast.yaml", "characters:\n  Alice:\n    language: en\n"))
    with pytest.raises(DubError) as err:
        cast_cues(cues, c, dataclasses.replace(INFO, voices=()))
    assert "cast.yaml:2: characters.Alice.voice: missing" in str(err.value)
