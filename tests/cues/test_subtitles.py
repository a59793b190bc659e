"""Reading SRT, ASS/SSA and WebVTT into cues: speakers, styling, encodings, broken files."""
from __future__ import annotations

import pytest

from support.paths import realworld, write
from indextts_dub.cues import read_cues
from indextts_dub.cues.cue import split_speaker
from indextts_dub.errors import DubError

SRT = """1
00:00:01,000 --> 00:00:02,500
Alice: <i>Hello</i> there,
my friend.

2
00:00:03,000 --> 00:00:04,250
[Bob] {\\an8}Hi!

3
00:00:05,000 --> 00:00:06,000
老王：我们需要<b>重复</b>这个实验。

4
00:00:07,000 --> 00:00:08,000
Just a line without a speaker {emotion=angry:0.8}

5
00:00:09,000 --> 00:00:10,000
Alice: Bye.

6
00:00:11,000 --> 00:00:12,000
Bob: Bye!

7
00:00:13,000 --> 00:00:14,000
[老王] 再见。
"""


def test_srt_speakers_styling_and_exact_samples(tmp_path):
    cues = read_cues(write(tmp_path / "a.srt", SRT))
    # a name that opens two cues (in either form) is a speaker
    assert [c.speaker for c in cues] == ["Alice", "Bob", "老王", None, "Alice", "Bob", "老王"]
    assert [c.speaker_from for c in cues] == ["prefix", "bracket", "prefix", None, "prefix", "prefix", "bracket"]
    assert cues[0].text == "Hello there,\nmy friend."
    assert cues[1].text == "Hi!"
    assert cues[2].text == "我们需要重复这个实验。"
    assert cues[3].text == "Just a line without a speaker"
    assert cues[3].tags == {"emotion": "angry:0.8"}
    # 1.000 s and 2.500 s at 48 kHz, exactly
    assert (cues[0].start, cues[0].end) == (48_000, 120_000)
    assert (cues[1].start, cues[1].end) == (144_000, 204_000)
    assert [c.line for c in cues] == [2, 7, 11, 15, 19, 23, 27]
    assert [c.id for c in cues] == ["1", "2", "3", "4", "5", "6", "7"]


def test_a_prefix_seen_once_stays_in_the_text_and_is_offered_to_casting(tmp_path):
    cues = read_cues(write(tmp_path / "once.srt", "1\n00:00:01,000 --> 00:00:02,000\nRègle numéro un: pas touche.\n\n"
                                                   "2\n00:00:03,000 --> 00:00:04,000\nAlice: hi\n"))
    assert [c.speaker for c in cues] == [None, None]
    assert [c.text for c in cues] == ["Règle numéro un: pas touche.", "Alice: hi"]
    assert [c.prefix for c in cues] == ["Règle numéro un", "Alice"]


ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1
Style: Mei,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.57,Default,Alice,0,0,0,,{\\i1}Hello{\\i0}\\Nthere
Comment: 0,0:00:02.00,0:00:03.00,Default,,0,0,0,,a translator's note
Dialogue: 0,0:00:03.10,0:00:04.00,Mei,,0,0,0,,{\\pos(10,10)}好的{\\b1}。
"""


def test_ass_name_field_style_comments_and_centiseconds(tmp_path):
    cues = read_cues(write(tmp_path / "a.ass", ASS))
    assert len(cues) == 2                           # the Comment is not spoken
    assert cues[0].speaker == "Alice" and cues[0].speaker_from == "name-field"
    assert cues[0].text == "Hello\nthere"
    assert (cues[0].start, cues[0].end) == (48_000, 123_360)   # 2.57 s = 123 360 samples
    assert cues[1].speaker is None and cues[1].style == "Mei"
    assert cues[1].text == "好的。"
    assert cues[0].line == 11 and cues[1].line == 13


VTT = """WEBVTT

NOTE a comment block

intro
00:00:01.000 --> 00:00:02.500 align:start
<v Alice>Hello <b>there</b> &amp; welcome</v>

00:03.000 --> 00:04.000
<v.loud Bob Smith>Hey <00:03.500>you<c.yellow>!</c>
"""


def test_vtt_voice_tags_ids_entities_and_short_timestamps(tmp_path):
    cues = read_cues(write(tmp_path / "a.vtt", VTT))
    assert [c.speaker for c in cues] == ["Alice", "Bob Smith"]
    assert all(c.speaker_from == "voice-tag" for c in cues)
    assert cues[0].text == "Hello there & welcome"
    assert cues[1].text == "Hey you!"
    assert cues[0].id == "intro"
    assert (cues[1].start, cues[1].end) == (144_000, 192_000)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "gb18030", "gbk", "big5"])
def test_encodings_are_detected(tmp_path, encoding):
    text = ("1\n00:00:01,000 --> 00:00:02,000\n老王：這是一個測試，我們明天見。\n\n"
            "2\n00:00:03,000 --> 00:00:04,000\n小美：謝謝你的幫助！\n") if encoding == "big5" else (
        "1\n00:00:01,000 --> 00:00:02,000\n老王：这是一个测试，我们明天见。\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\n小美：谢谢你的帮助！\n")
    cues = read_cues(write(tmp_path / "zh.srt", text, encoding))
    assert [c.prefix for c in cues] == ["老王", "小美"]
    assert cues[0].text.startswith(("老王：这是", "老王：這是"))


def test_short_gbk_line_is_not_taken_for_big5(tmp_path):
    cues = read_cues(write(tmp_path / "s.srt", "1\n00:00:01,000 --> 00:00:02,000\n你好\n", "gb18030"))
    assert cues[0].text == "你好"


def test_explicit_encoding_wins_and_a_wrong_one_names_the_line(tmp_path):
    path = write(tmp_path / "x.srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:04,000\n你好\n")
    with pytest.raises(DubError) as err:
        read_cues(path, encoding="ascii")
    assert "x.srt:7: encoding" in str(err.value)


def test_sintel_real_file(tmp_path):
    cues = read_cues(realworld("subtitles/sintel_en.srt"))
    assert len(cues) == 26
    assert cues[0].text == "This blade has a dark past."
    assert cues[2].text == "You're a fool for traveling alone,\nso completely unprepared."
    assert cues[0].start == (2 * 60 + 17) * 48_000 + 250 * 48


@pytest.mark.parametrize("body, line, field, words", [
    ("1\n00:00:01,000 --> 00:0x:02,000\nbroken\n", 2, "timing", "malformed timing"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:04,000\nend before start\n", 6, "end", "before it starts"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> \nno end\n", 6, "timing", "malformed timing"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:75,000 --> 00:00:76,000\nbad seconds\n", 6, "start", "not a valid time"),
])
def test_broken_srt_names_file_line_and_field(tmp_path, body, line, field, words):
    path = write(tmp_path / "bad.srt", body)
    with pytest.raises(DubError) as err:
        read_cues(path)
    msg = str(err.value)
    assert f"bad.srt:{line}: {field}:" in msg and words in msg


def test_broken_ass_time_and_short_dialogue(tmp_path):
    body = ASS.replace("0:00:03.10,0:00:04.00", "0:00:0x.10,0:00:04.00") + "Dialogue: 0,0:00:06.00\n"
    with pytest.raises(DubError) as err:
        read_cues(write(tmp_path / "bad.ass", body))
    msg = str(err.value)
    assert "bad.ass:13: Start: malformed time" in msg
    assert "bad.ass:14: Dialogue: has 2 fields" in msg


@pytest.mark.parametrize("content, words", [
    ("", "empty"),
    ("   \n\n", "empty"),
    ("just some prose, no cues at all\n", "not a subtitle file"),
])
def test_empty_and_non_subtitle_files(tmp_path, content, words):
    with pytest.raises(DubError) as err:
        read_cues(write(tmp_path / "thing.txt", content))
    assert words in str(err.value) and "thing.txt" in str(err.value)


def test_srt_without_cues(tmp_path):
    with pytest.raises(DubError) as err:
        read_cues(write(tmp_path / "none.srt", "hello\n"))
    assert "none.srt" in str(err.value) and "no cues" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DubError) as err:
        read_cues(tmp_path / "nope.srt")
    assert "nope.srt: file not found" in str(err.value)


def test_binary_garbage_does_not_crash(tmp_path):
    path = tmp_path / "garbage.srt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DubError) as err:
        read_cues(path)
    assert "garbage.srt" in str(err.value)


@pytest.mark.parametrize("text, expected", [
    ("Alice: hi", ("Alice", "prefix", "hi")),
    ("Dr. Wu: hi", (None, None, "Dr. Wu: hi")),        # a name with a full stop is not taken as a speaker
    ("[Bob] hi", ("Bob", "bracket", "hi")),
    ("【小美】你好", ("小美", "bracket", "你好")),
    ("It is 3:30 now", (None, None, "It is 3:30 now")),
    ("[Music]", (None, None, "[Music]")),
])
def test_split_speaker(text, expected):
    assert split_speaker(text) == expected


def test_text_after_a_nul_byte_is_text(tmp_path):
    srt = tmp_path / "nul.srt"
    srt.write_bytes(b"1\n00:00:01,000 --> 00:00:03,000\nAlice: Good\x00morning.\n\n"
                    b"2\n00:00:04,000 --> 00:00:06,000\n[Bo\x00b] Hi\x01there\n")
    a, b = read_cues(srt)
    # each name opens one cue only: offered to casting as a prefix, the text kept (NULs as spaces)
    assert (a.prefix, a.text) == ("Alice", "Alice: Good morning.")
    assert (b.prefix, b.text) == ("Bo b", "[Bo b] Hi there")
    ass = write(tmp_path / "nul.ass", ASS.replace("Default,Alice,0,0,0,,{\\i1}Hello", "Default,Al\x00ice,0,0,0,,{\\i1}Hel\x00lo"))
    first = read_cues(ass)[0]
    assert (first.speaker, first.text) == ("Al ice", "Hel lo\nthere")


def test_a_webvtt_cue_of_two_voices_is_split_between_them(tmp_path):
    # vtt.js's cycle-collector-talk.vtt: two <v> voices in one cue, each its own line and voice
    path = tmp_path / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:03.000\n<v Kyle Huey> Not ready yet?\n\n"
                    "00:04.000 --> 00:05.000\n<v Chris Pearce> Okay, we're good now.</v>\n"
                    "<v Kyle Huey> Oh, now we're good?</v>\n", encoding="utf-8")
    cues = read_cues(path)
    assert [(c.speaker, c.text) for c in cues] == [("Kyle Huey", "Not ready yet?"),
                                                  ("Chris Pearce", "Okay, we're good now."),
                                                  ("Kyle Huey", "Oh, now we're good?")]
    assert cues[1].start == 4 * 48000 and cues[1].end == cues[2].start and cues[2].end == 5 * 48000
