"""``indextts-dub dub ... --dry-run --json``: one JSON document on stdout and nothing else
(messages go to stderr), with each line's source, character, language, the exact speech text,
its slot and the decision; skipped cues and warnings beside them."""
from __future__ import annotations

import json

from support.paths import DATA, DEMO, run_cli, write

LINE_KEYS = {"index", "source", "character", "language", "text", "start_ms", "end_ms", "decision", "why"}


def _json_run(*args):
    res = run_cli("dub", *args, "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res          # json.loads refuses anything after the document


def test_demo_dry_run_json_is_one_document(tmp_path):
    doc, res = _json_run(DEMO / "episode.srt", "--cast", DEMO / "cast.yaml", "-o", tmp_path / "out")
    assert set(doc) == {"lines", "skipped", "warnings"}
    assert "would synthesize" not in res.stdout
    lines = doc["lines"]
    assert [ln["index"] for ln in lines] == list(range(1, len(lines) + 1)) and len(lines) == 9
    assert all(set(ln) == LINE_KEYS for ln in lines)
    first, second, fourth = lines[0], lines[1], lines[3]
    assert first["source"].endswith("episode.srt:2") and first["character"] == "Alice" and first["language"] == "en"
    assert first["text"] == "Good morning, everyone. Let's begin the rehearsal."
    assert (first["start_ms"], first["end_ms"], first["decision"]) == (500, 3700, "synthesize")
    assert second["character"] == "王老师" and second["language"] == "zh" and second["source"].endswith(":7")
    assert "<i>" not in fourth["text"] and "{emotion" not in fourth["text"]        # what is spoken, not shown
    assert [s["reason"] for s in doc["skipped"]] == ["music cue"]
    assert doc["skipped"][0]["source"].endswith("episode.srt:40")
    assert any("cannot render emotion" in w for w in doc["warnings"])


def test_dry_run_json_on_a_bad_input_prints_nothing_on_stdout(tmp_path):
    srt = write(tmp_path / "bad.srt", "1\n00:00:01,000 --> 00:00:0x,000\nbroken\n")
    res = run_cli("dub", srt, "--dry-run", "--json", "-o", tmp_path / "out")
    assert res.returncode == 2 and res.stdout == ""
    assert "bad.srt:2: timing" in res.stderr
    res = run_cli("dub", DEMO / "episode.srt", "--json", "-o", tmp_path / "out")
    assert res.returncode == 2 and "--json: goes with --dry-run" in res.stderr


def test_dry_run_json_from_an_aaf_names_markers_and_plans_its_overlaps(tmp_path):
    """Its blue markers name no speaker and two pairs overlap (refused before, as 'line 0'); one
    of the five sits on media before what the cut shows of its clip, so four are dialogue."""
    doc, _res = _json_run(DATA / "thirdparty" / "aaf" / "marker-over-transition.aaf", "--marker-color", "BLUE",
                          "--allow-offline-media", "-o", tmp_path / "out")
    assert len(doc["lines"]) == 4 and all(".aaf (marker '" in ln["source"] for ln in doc["lines"])
    assert doc["lines"][0]["source"].endswith("at 01:00:00:00 (tracks.children[0].children[0].markers[0]))")
    assert {ln["character"] for ln in doc["lines"]} == {"Narrator", "Narrator 2"}
    assert any("cues that name no speaker overlap" in w for w in doc["warnings"])


RU = ("1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
      "2\n00:00:03,000 --> 00:00:04,500\nПривет, как дела?\n\n"
      "3\n00:00:05,000 --> 00:00:06,500\n今日は雨ですね。\n\n"
      "4\n00:00:05,500 --> 00:00:07,500\nAnd who are you?\n")


def test_unspeakable_lines_exit_2_or_are_skipped_and_listed(tmp_path):
    srt = write(tmp_path / "ru.srt", RU)
    res = run_cli("dub", srt, "--dry-run", "-o", tmp_path / "out")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "ru.srt:6: text: written in Russian (Cyrillic script)" in res.stderr
    assert "ru.srt:10: text: written in Japanese (kana and kanji)" in res.stderr
    doc, _res = _json_run(srt, "--skip-unspeakable", "-o", tmp_path / "out")
    assert [ln["text"] for ln in doc["lines"]] == ["Hello there.", "And who are you?"]
    assert [(s["source"].rsplit(":", 1)[1], s["reason"].split(",")[0]) for s in doc["skipped"]] == [
        ("6", "written in Russian (Cyrillic script)"), ("10", "written in Japanese (kana and kanji)")]
