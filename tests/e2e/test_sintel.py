"""A real film's subtitles (Sintel, CC BY 3.0) dubbed with a two-character cast."""
from __future__ import annotations

import json

import soundfile as sf

from support.paths import DATA, realworld
from indextts_dub.cues import read_cues
from indextts_dub.pipeline import dub

CAST = DATA / "realworld" / "sintel_cast.yaml"      # cue numbers say who speaks


def test_sintel_dubs_with_two_characters(tmp_path):
    srt = tmp_path / "sintel_en.srt"
    srt.write_bytes(realworld("subtitles/sintel_en.srt").read_bytes())
    res = dub(srt, cast=CAST, out=tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    cues = read_cues(srt)
    assert len(doc["lines"]) + len(doc["skipped"]) == len(cues) == 26
    assert {r["character"] for r in doc["lines"]} == {"Shaman", "Sintel"}
    assert sum(r["character"] == "Shaman" for r in doc["lines"]) == 11
    assert sorted(p.name for p in (tmp_path / "out" / "stems").iterdir()) == ["Shaman.wav", "Sintel.wav"]
    programme = doc["programme_samples"]
    assert programme >= cues[-1].end
    assert sf.info(tmp_path / "out" / "dub.wav").frames == programme
    by_line = {c.line: c for c in cues}
    for rec in doc["lines"]:
        cue = by_line[rec["source"]["line"]]
        assert 0 <= cue.start - rec["clip"]["start"] <= 150 * 48 or 0 < rec["delay_samples"] <= 1000 * 48
        assert sf.info(tmp_path / "out" / "clips" / f"{rec['index']:04d}_{rec['character']}.wav").frames == rec["clip"]["length"]
        assert 1.0 <= rec["speed"] <= (1.5 if rec["compressed"] else 1.25)
        assert rec["overrun_samples"] == 0
    assert res.facts.synthesis_calls / len(doc["lines"]) < 2.5
