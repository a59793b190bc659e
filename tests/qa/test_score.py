"""The QA scorer: word error rate for English, toneless-pinyin syllable error rate for Mandarin,
numbers and scripts normalised the same way on both sides."""
from __future__ import annotations

import pytest

from indextts_dub.qa.score import error_rate, tokens


@pytest.mark.parametrize("reference, heard, language, expected", [
    ("Good morning, everyone.", "good morning everyone", "en", 0.0),
    ("The sample weighs 3.5 kilograms, right?", "The sample weighs three point five kilograms, right.", "en", 0.0),
    ("See you at 3 PM.", "See you at 3 p.m.", "en", 0.0),
    ("I have 1,250 apples", "I have one thousand two hundred fifty apples", "en", 0.0),
    ("Could you repeat the part about the budget, please?", "You will be the father of the magic, please.", "en", 6 / 9),
    ("Understood.", "Let's go.", "en", 1.0),
    ("准备好了！", "準備好了", "zh", 0.0),                      # traditional characters simplified
    ("重量是三点五公斤。", "重量是3.5公斤", "zh", 0.0),           # digits read as the engine reads them
    ("我们准备仪器。", "我们准备一气", "zh", 0.0),                # homophones: toneless syllables agree
    ("我明白了，我们马上开始。", "我们马上开始", "zh", 4 / 10),   # four syllables dropped
    ("这个 deadline 很重要。", "这个deadline很重要", "zh", 0.0),  # Latin words count as words
])
def test_error_rates(reference, heard, language, expected):
    assert error_rate(reference, heard, language) == pytest.approx(expected, abs=1e-3)


def test_units_and_edges():
    assert tokens("对，重量是3.5公斤。", "zh") == ["dui", "zhong", "liang", "shi", "san", "dian", "wu", "gong", "jin"]
    assert tokens("Let's go!", "en") == ["let's", "go"]
    assert error_rate("", "", "en") == 0.0 and error_rate("", "noise", "en") == 1.0
    assert error_rate("Hi.", "a much longer hallucination than the line", "en") == 1.0    # capped
