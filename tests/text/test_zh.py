"""The Mandarin front end: a corpus of tricky sentences with their expected pinyin,
tone-number text for engines that read pinyin inline, and the built-in engine using it."""
from __future__ import annotations

import subprocess
import sys

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


def test_a_character_no_table_reads_is_read_as_nothing_not_a_crash():
    # 兙 (decagram) has no reading in pypinyin's tables nor in the large one; it used to raise TypeError
    assert zh.pinyin("十兙的货") == ["shi2", "de5", "huo4"]
    assert [r for _, rs in zh.words("兙") for r in rs] == [None]


def test_the_shipped_phrase_table_reads_every_phrase_as_the_large_table_does():
    """indextts_dub/text/data/zh_phrases.tsv is the part of pypinyin-dict's large_pinyin that
    pypinyin reads otherwise; with it loaded, pypinyin reads all 411 957 phrases of the large
    table as the large table does (but for our own corrections, zh.PHRASES)."""
    pytest.importorskip("pypinyin_dict")
    code = (
        "from indextts_dub.text import zh\n"
        "from pypinyin import pinyin, Style\n"
        "from pypinyin_dict.phrase_pinyin_data import large_pinyin\n"
        "zh._setup()\n"
        "n = bad = 0\n"
        "for p, rs in large_pinyin.phrases_dict.items():\n"
        "    if len(rs) != len(p) or any(k in p for k in zh.PHRASES):\n"
        "        continue\n"
        "    n += 1\n"
        "    bad += [r[0] for r in pinyin(p, style=Style.TONE)] != [r[0] for r in rs]\n"
        "print(n, bad)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    n, bad = map(int, res.stdout.split())
    assert n > 400_000 and bad == 0, res.stdout


def test_the_front_end_does_not_load_pypinyin_dict():
    code = ("import sys\nfrom indextts_dub.text import zh\nzh.pinyin('我们要重复昨天的实验。')\n"
            "print(sorted(m for m in sys.modules if m.startswith('pypinyin_dict')))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr
