"""The language of a line from the scripts of its letters."""
from __future__ import annotations

import pytest

from indextts_dub.text.script import detect_language, language_name, script_of


@pytest.mark.parametrize("text, lang", [
    ("Good morning, everyone.", "en"),
    ("Règle numéro un : pas touche.", "en"),            # Latin letters: the casting file says French
    ("早上好！今天我们要重复昨天的实验。", "zh"),
    ("这个 deadline 很重要。", "zh"),                     # Chinese with an English word
    ("今日は雨ですね。", "ja"),                            # kanji with kana: Japanese, not Mandarin
    ("東京へ行きます", "ja"),
    ("ｶﾀｶﾅだけ", "ja"),                                   # half-width katakana
    ("안녕하세요, 반갑습니다.", "ko"),
    ("Привет, как дела?", "ru"),
    ("OK, спасибо большое.", "ru"),                        # mostly Cyrillic
    ("I said спасибо to everyone there.", "en"),           # mostly Latin
    ("مرحبا بكم", "ar"),
    ("שלום עולם", "he"),
    ("Γειά σου κόσμε", "el"),
    ("สวัสดีครับ", "th"),
    ("नमस्ते दुनिया", "hi"),
    ("Ｈｅｌｌｏ", "en"),                                  # full-width Latin
    ("3.5 — 42!", None),                                   # no letters
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_scripts_of_letters_and_names():
    assert [script_of(c) for c in "aЖ中あア한1 ."] == ["Latin", "Cyrillic", "Han", "Kana", "Kana", "Hangul",
                                                     None, None, None]
    assert language_name("ru") == "Russian (Cyrillic script)"
    assert language_name("ja") == "Japanese (kana and kanji)"
    assert detect_language("ᏣᎳᎩ") == "cherokee" and language_name("cherokee") == "cherokee script"
