"""Speech text: Chinese numbers, user pinyin, annotations, Han/Latin runs."""
from __future__ import annotations

import pytest

from indextts_dub.text.speech import normalize_inline_pinyin, pinyin_to_tone3, speech_text, split_runs


@pytest.mark.parametrize("text, expected", [
    ("重量是3.5公斤", "重量是三点五公斤"),
    ("增长了12.5%", "增长了百分之十二点五"),
    ("一共2000人", "一共两千人"),
    ("我有2个苹果", "我有两个苹果"),
    ("第2名", "第二名"),
    ("会议在15:30开始", "会议在十五点半开始"),
    ("现在是9:05", "现在是九点零五分"),
    ("2024-03-05发布", "二零二四年三月五日发布"),
    ("1998年", "一九九八年"),
    ("价格是￥120", "价格是一百二十元"),
    ("花了$5", "花了五美元"),
    ("电话13812345678", "电话一三八一二三四五六七八"),
    ("共1,200人", "共一千二百人"),
    ("温度-5度", "温度负五度"),
    ("1/3的人", "三分之一的人"),
])
def test_chinese_numbers(text, expected):
    assert speech_text(text, "zh") == expected


def test_english_numbers_are_left_to_the_english_front_end():
    assert speech_text("See you at 3 PM.", "en") == "See you at 3 PM."


@pytest.mark.parametrize("syllable, expected", [
    ("chóng", "chong2"), ("chong2", "chong2"), ("zhòng", "zhong4"), ("lǜ", "lü4"), ("lv4", "lü4"),
    ("de", "de5"), ("hello", None), ("xyz3", None),
])
def test_pinyin_to_tone3(syllable, expected):
    assert pinyin_to_tone3(syllable) == expected


def test_inline_pinyin_is_normalised_and_survives_number_reading():
    assert normalize_inline_pinyin("重(chóng)复") == "重(chong2)复"
    assert speech_text("我们要重(chóng)复2次", "zh") == "我们要重(chong2)复两次"
    assert speech_text("重（zhòng）量", "zh") == "重(zhong4)量"
    assert speech_text("他(笑)说", "zh") == "他 说"        # an annotation, not pinyin: removed


def test_annotations_and_dialogue_dashes():
    assert speech_text("(sighs) I know.\n[door slams]", "en") == "I know."
    assert speech_text("- 你好\n- 好的", "zh") == "你好，好的"
    assert speech_text("♪ la la ♪", "en") == ""


def test_split_runs_mixed_line():
    assert split_runs("这个 deadline 很重要。") == [("zh", "这个"), ("en", "deadline"), ("zh", "很重要。")]
    assert split_runs("Hello, 世界!") == [("en", "Hello,"), ("zh", "世界")]
    assert split_runs("重(chong2)复") == [("zh", "重(chong2)复")]
