"""Emotion travels through the whole run whatever the engine: Request.emotion, plan.json,
the timeline's metadata; an engine without emotion is reported once per run."""
from __future__ import annotations

import json

import opentimelineio as otio

from support.paths import write
from indextts_dub.pipeline import dub

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: {emotion=angry:0.8}Hello there.\n\n"
       "2\n00:00:02,500 --> 00:00:04,000\nBob: 你好，我们开始吧。\n\n"
       "3\n00:00:04,500 --> 00:00:06,000\nAlice: {emotion_text=whispering nervously}Who is there?\n\n"
       "4\n00:00:06,500 --> 00:00:08,000\nBob: {voice=toy:high}{emotion=neutral}好的。\n")
CAST = """engine: toy
fit: {speed_min: 0.8, speed_max: 1.2}
characters:
  Alice:
    voice: toy:high
    emotion: {sad: 0.5}
    gain_db: -6
  Bob:
    voice: low
    emotion: [0, 0, 0, 0, 0, 0, 0.4, 0.6]
    speed: [0.9, 1.1]
    pan: 0.5
"""


def test_emotion_reaches_the_engine_the_plan_and_the_timeline(tmp_path, toy_engine):
    from indextts_dub import engines

    out = tmp_path / "out"
    res = dub(write(tmp_path / "e.srt", SRT), cast=write(tmp_path / "cast.yaml", CAST), out=out)
    calls = engines.load("toy").calls
    natural = {c.text: c for c in calls if c.speed == 1.0}
    assert dict(natural["Hello there."].emotion.presets) == {"angry": 0.8}
    assert natural["Hello there."].emotion.vector[1] == 0.8
    who = natural["Who is there?"].emotion
    assert (who.kind, who.text, who.vector) == ("text", "whispering nervously", None)
    bob = natural["你好，我们开始吧。"].emotion
    capped, was_capped = bob.capped_vector()
    assert bob.kind == "vector" and was_capped and abs(sum(capped) - 0.8) < 1e-6
    assert natural["好的。"].emotion is None and natural["好的。"].voice == "high"
    # reported once per run, in the summary and plan.json
    assert sum("cannot render emotion" in w for w in res.warnings) == 1
    assert res.summary.count("cannot render emotion") == 1
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert sum("cannot render emotion" in w for w in doc["warnings"]) == 1
    recs = {r["cue_id"]: r for r in doc["lines"]}
    assert recs["1"]["emotion"]["label"] == "angry 0.80" and recs["1"]["gain_db"] == -6
    assert recs["2"]["emotion"]["vector"] == [0, 0, 0, 0, 0, 0, 0.4, 0.6]
    assert recs["2"]["emotion"]["vector_sent"] == [0, 0, 0, 0, 0, 0, 0.32, 0.48]
    assert recs["2"]["speed_bounds"] == [0.9, 1.1] and recs["2"]["pan"] == 0.5
    assert recs["4"]["emotion"] is None
    assert doc["bounds"]["speed_min"] == 0.8 and doc["voices"]["Alice"]["voice"] == "toy:high"
    for r in doc["lines"]:
        lo, hi = r["speed_bounds"] or (0.8, 1.2)
        assert lo - 1e-6 <= r["speed"] <= hi + 1e-6
    tl = otio.adapters.read_from_file(str(out / "timeline.otio"))
    metas = {c.metadata["indextts_dub"]["cue_id"]: c.metadata["indextts_dub"] for c in tl.find_clips()
             if "indextts_dub" in c.metadata and "cue_id" in c.metadata["indextts_dub"]}
    assert metas["3"]["emotion"]["text"] == "whispering nervously" and metas["1"]["emotion"]["kind"] == "preset"
