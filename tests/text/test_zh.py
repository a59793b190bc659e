"""The Mandarin front end: a corpus of tricky sentences with their expected pinyin,
tone-number text for engines that read pinyin inline, and the built-in engine using it."""
from __future__ import annotations


from support.paths import DATA

import pytest

from indextts_dub.text import zh
from indextts_dub.text.speech import speech_text

CORPUS = DATA / "zh_corpus.tsv"
ROWS = [ln.split("\t") for ln in CORPUS.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]


def test_the_corpus_has_at_least_30_sentences():
    assert len(ROWS) >= 30 and all(len(r) == 3 for r in ROWS)


@pytest.mark.parametrize("text, speech, pinyin", ROWS, ids=[r[0][:12] for r in ROWS])
def test_corpus(text, speech, pinyin):
    got = speech_text(text, "zh")
    assert got == speech
    assert " ".join(zh.pinyin(got)) == pinyin


@pytest.mark.parametrize("text, expected", [
    ("我们要重复昨天的实验", "我们要chong2复昨天的实验"),     # polyphone read other than its usual reading
    ("这个箱子的重量", "这个箱子的重量"),                     # usual reading: left as characters
    ("他在银行工作", "他在银hang2工作"),
    ("我们一起行走", "我们一起行走"),
    ("重(zhong4)复", "zhong4复"),                           # the user's pinyin always wins
    ("还是你说得对", "还是你说得对"),                         # neutral tone of the usual syllable: no mark
    ("这个 deadline 很重要", "这个 deadline 很重要"),          # English kept
])
def test_tone_number_text_for_engines_that_read_pinyin(text, expected):
    assert zh.tone_number_text(text) == expected


def test_tone_number_text_everything():
    assert zh.tone_number_text("重复了", everything=True) == "chong2fu4le5"


def test_user_pinyin_beats_context_in_both_forms():
    assert zh.pinyin(speech_text("重(zhòng)复", "zh")) == ["zhong4", "fu4"]
    assert zh.pinyin(speech_text("银行(xíng)", "zh")) == ["yin2", "xing2"]


def test_builtin_engine_phonemes_follow_the_front_end():
    from indextts_dub.engines.kokoro import KokoroEngine

    e = KokoroEngine()
    chong = e.phonemize("重复")
    zhong = e.phonemize("重(zhong4)复")
    assert chong.startswith("ꭧʰʊ↗ŋ") and zhong.startswith("ꭧʊ↘ŋ")      # chóng (aspirated, rising), zhòng
    assert "dˈɛdlaɪn" in e.phonemize("这个 deadline 很重要")
