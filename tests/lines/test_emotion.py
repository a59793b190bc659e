"""Emotion in every form IndexTTS2 understands, and the bad values."""
from __future__ import annotations

import pytest

from indextts_dub.lines import emotion as emo
from indextts_dub.engines import VECTOR_SUM_CAP


@pytest.mark.parametrize("value, vector, kind", [
    ("angry", (0, 1, 0, 0, 0, 0, 0, 0), "preset"),
    ("angry:0.7", (0, 0.7, 0, 0, 0, 0, 0, 0), "preset"),
    ("Angry = 0.7", (0, 0.7, 0, 0, 0, 0, 0, 0), "preset"),
    ({"angry": 0.7}, (0, 0.7, 0, 0, 0, 0, 0, 0), "preset"),
    ("sad:0.4, afraid:0.2", (0, 0, 0.4, 0.2, 0, 0, 0, 0), "preset"),
    ("melancholy:0.5", (0, 0, 0, 0, 0, 0.5, 0, 0), "preset"),
    ("惊讶:0.3", (0, 0, 0, 0, 0, 0, 0.3, 0), "preset"),
    ([0, 0.6, 0, 0, 0, 0, 0.2, 0], (0, 0.6, 0, 0, 0, 0, 0.2, 0), "vector"),
    ("[0,0.6,0,0,0,0,0.2,0]", (0, 0.6, 0, 0, 0, 0, 0.2, 0), "vector"),
    ("0, 0.6, 0, 0, 0, 0, 0.2, 0", (0, 0.6, 0, 0, 0, 0, 0.2, 0), "vector"),
])
def test_presets_and_vectors(value, vector, kind):
    e = emo.parse_value(value, "x:1")
    assert e.kind == kind and e.vector == tuple(float(v) for v in vector) and e.source == "x:1"


def test_neutral_forms():
    assert emo.parse_value("neutral").is_neutral
    assert emo.parse_value([0] * 8).is_neutral
    assert emo.parse_value("neutral").request() is None


def test_vector_sum_is_capped_for_the_engine_but_recorded_as_written():
    e = emo.parse_value("happy:1, surprised:0.6")
    vector, capped = e.request().capped_vector()
    assert capped and abs(sum(vector) - VECTOR_SUM_CAP) < 1e-6
    assert vector[0] == pytest.approx(0.5) and vector[6] == pytest.approx(0.3)
    assert e.request().vector == e.vector          # the engine gets it as written, and may cap it itself
    rec = e.record()
    assert rec["vector"][0] == 1.0 and abs(sum(rec["vector_sent"]) - 0.8) < 1e-6
    small, capped = emo.parse_value("calm:0.3").request().capped_vector()
    assert not capped and small[7] == 0.3


def test_text_and_ref_forms_carry_alpha():
    t = emo.from_text("whispering nervously", 0.5)
    assert t.request() == t.request() and t.request().text == "whispering nervously"
    assert t.request().alpha == 0.5 and t.request().vector is None
    r = emo.from_ref("/clips/a.wav", "ab" * 32, 0.6)
    assert r.request().clip == "/clips/a.wav" and r.request().alpha == 0.6 and r.label().startswith("ref a.wav")
    assert t.key() != r.key() and emo.from_text("whispering nervously", 0.4).key() != t.key()


@pytest.mark.parametrize("value, words", [
    ("furiousness:0.5", "unknown emotion preset 'furiousness'"),
    ("angry:1.5", "between 0 and 1"),
    ("angry:-0.1", "between 0 and 1"),
    ({"angry": "lots"}, "must be a number"),
    ([0, 0.5, 0], "exactly 8 values"),
    ([0] * 9, "got 9"),
    ([0, 2, 0, 0, 0, 0, 0, 0], "value 2 (angry) must be between 0 and 1"),
    ([0, "x", 0, 0, 0, 0, 0, 0], "must be a number"),
    ("angry:0.5, angry:0.2", "given twice"),
    ("neutral, sad", "cannot be mixed"),
    (0.5, "is a number"),
    ("", "empty"),
])
def test_bad_values(value, words):
    with pytest.raises(emo.EmotionError) as err:
        emo.parse_value(value)
    assert words in str(err.value)


def test_bad_alpha_and_text():
    with pytest.raises(emo.EmotionError, match="between 0 and 1"):
        emo.from_text("calmly", 1.2)
    with pytest.raises(emo.EmotionError, match="sentence"):
        emo.from_text("  ")
