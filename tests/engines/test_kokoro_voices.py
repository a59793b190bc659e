"""The built-in engine's native voice styles: shipped as package data, checked against their
checksum list, listed with language and gender, and spoken in their own accents."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from support.paths import REPO, run_cli
from indextts_dub import engines
from indextts_dub.engines import Request, kokoro as kokoro_module
from indextts_dub.voices.ids import native_voice


def _build_script():
    spec = importlib.util.spec_from_file_location("build_kokoro_voices", REPO / "scripts" / "build_kokoro_voices.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kokoro():
    return engines.load("kokoro")


def test_shipped_styles_match_their_checksum_list_and_stay_small():
    build = _build_script()
    files = kokoro_module.native_files()
    assert build.check() == []
    listed = (REPO / "indextts_dub" / "data" / "kokoro_voices" / "SHA256SUMS").read_text().split()[1::2]
    assert sorted(listed) == sorted(f"{v}.bin" for v in files)
    assert all(f.is_file() and f.stat().st_size == build.STYLE_BYTES < 5_000_000 for f in files.values())
    assert {v[:2] for v in files} == {"af", "am", "bf", "bm", "zf", "zm"}


def test_a_damaged_style_file_is_found(tmp_path):
    build = _build_script()
    (tmp_path / "af_heart.bin").write_bytes(b"\0" * 8)
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  af_heart.bin\n{'1' * 64}  zf_xiaobei.bin\n")
    (tmp_path / "extra.bin").write_bytes(b"")
    assert build.check(tmp_path) == ["af_heart.bin: checksum differs", "zf_xiaobei.bin: missing",
                                     "extra.bin: not in SHA256SUMS"]


def test_every_voice_has_a_language_and_gender_and_the_defaults_are_native():
    info = engines.describe("kokoro")
    assert len(info.voices) == 41 and all(v.languages and v.gender in ("female", "male") for v in info.voices)
    assert [native_voice(info, lang, g) for lang in ("en", "zh") for g in ("female", "male")] == [
        "af_heart", "am_michael", "zf_xiaobei", "zm_yunjian"]
    assert native_voice(info, "fr") is None


def test_engines_command_lists_every_voice_with_language_and_gender():
    res = run_cli("engines")
    assert res.returncode == 0, res.stderr
    rows = [r.split() for r in res.stdout.splitlines() if r.startswith("  kokoro:")]
    assert len(rows) == 41
    assert ["kokoro:af_heart", "en", "female"] == rows[0][:3]
    assert ["kokoro:zm_yunjian", "zh", "male"] in [r[:3] for r in rows]


def test_british_voices_read_english_in_british_phonemes(kokoro):
    us, uk = kokoro.phonemize("Tomato and water", "af_heart"), kokoro.phonemize("Tomato and water", "bm_fable")
    assert "ɑː" in uk and "ɚ" in us and us != uk
    assert kokoro.phonemize("Tomato", "0.7*bf_emma+0.3*af_heart") == kokoro.phonemize("Tomato", "bf_emma")


@pytest.mark.parametrize("voice, text, lang", [
    ("af_heart", "Good morning, everyone.", "en"), ("bm_fable", "Good morning, everyone.", "en"),
    ("zf_xiaobei", "早上好，我们开始吧。", "zh"), ("zm_yunjian", "这个 deadline 很重要。", "zh"),
    ("0.6*af_heart+0.4*zf_xiaobei", "Hello there.", "en"),
])
def test_native_voices_and_blends_speak(kokoro, voice, text, lang):
    x = kokoro.synthesize(Request(text, voice, language=lang))
    assert x.dtype == np.float32 and 0.5 * 24_000 < x.size < 6 * 24_000 and np.sqrt(np.mean(x ** 2)) > 0.01


def test_native_styles_differ_from_each_other_and_a_blend_lies_between(kokoro):
    a, b = kokoro.style("af_heart"), kokoro.style("bf_emma")
    assert a.shape == (510, 1, 256) and not np.allclose(a, b)
    assert np.allclose(kokoro.style("0.5*af_heart+0.5*bf_emma"), (a + b) / 2, atol=1e-6)
    with pytest.raises(engines.EngineError, match="unknown Kokoro voice 'xx_nobody'"):
        kokoro.style("xx_nobody")
