"""A run's reading of real subtitle layouts: the bilingual choice and the skips reach the cast
lines, the warnings of the summary and plan.json's skipped list; --speak picks the other language."""
from __future__ import annotations

import pytest

from support.paths import DATA, run_cli
from indextts_dub.errors import DubError
from indextts_dub.pipeline import read_inputs

BILINGUAL = DATA / "corpus" / "bilingual_zh_over_en.srt"


def test_a_bilingual_file_speaks_its_primary_language_and_says_so():
    inp = read_inputs(BILINGUAL, voice="kokoro:jf_alpha")
    assert [ln.speech_text for ln in inp.cast_lines.lines] == ["我们得走了。", "一个逃犯。", "他在哪儿？", "不知道。", "那就找。"]
    assert {ln.language for ln in inp.cast_lines.lines} == {"zh"}
    assert [ln.character for ln in inp.cast_lines.lines][1] == "莫比斯"
    note = [w for w in inp.cast_lines.warnings if "bilingual" in w]
    assert note and "speaking Chinese (zh)" in note[0] and "--speak en" in note[0]
    assert [(s.cue.line, s.reason) for s in inp.cast_lines.skipped] == [(22, "sound description")]


def test_speak_picks_the_other_language():
    inp = read_inputs(BILINGUAL, voice="kokoro:jf_alpha", speak="en")
    assert [ln.speech_text for ln in inp.cast_lines.lines][:2] == ["We have to go.", "A fugitive."]
    assert {ln.language for ln in inp.cast_lines.lines} == {"en"}


def test_a_bad_speak_value_is_refused_before_reading():
    with pytest.raises(DubError) as err:
        read_inputs(BILINGUAL, voice="kokoro:jf_alpha", speak="fr")
    assert "--speak" in str(err.value)


def test_a_file_of_only_sound_descriptions_is_refused_with_the_reasons(tmp_path):
    srt = tmp_path / "sdh.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\n[SIGHS]\n\n2\n00:00:03,000 --> 00:00:04,000\n♪ la la la\n",
                   encoding="utf-8")
    res = run_cli("dub", srt, "--voice", "kokoro:jf_alpha", "-o", tmp_path / "out", "-q")
    assert res.returncode == 2, res.stderr
    assert "sound description" in res.stderr and "lyrics" in res.stderr and "Traceback" not in res.stderr
    assert "names no speaker" not in res.stderr
