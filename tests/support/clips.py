"""Test clips: real speech from the built-in engine (made once per session), and signals
that break one rule each (silence, too short, clipped, corrupt)."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 24_000
TEXTS = {"zh": "同学们，上课了。今天我们学习新的内容，请大家认真听讲。",
         "en": "Good morning. The weather is lovely today, so let us walk to the river together."}


@functools.lru_cache(maxsize=None)
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="indextts-dub-test-clips-"))


@functools.lru_cache(maxsize=None)
def speech(voice: str, lang: str = "zh", speed: float = 1.0) -> Path:
    """A clip of ``voice`` (a built-in voice or blend) reading a sentence, 24 kHz mono."""
    from indextts_dub.engines import Request, load
    from indextts_dub.text.speech import speech_text

    x = load("kokoro").synthesize(Request(text=speech_text(TEXTS[lang], lang), voice=voice, language=lang,
                                          speed=speed))
    x = 0.7 * x / np.max(np.abs(x))
    path = _folder() / f"{voice.replace('*', 'x').replace('+', '_')}_{lang}_{speed}.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    return path


def tone_speech(path: Path, seconds: float, level: float = 0.3, sr: int = 16_000, channels: int = 1) -> Path:
    """A speech-like signal (voiced bursts, 4 per second) of ``seconds`` between 0.2 s of silence."""
    t = np.arange(int(seconds * sr)) / sr
    env = (np.sin(2 * np.pi * 2 * t) > -0.3).astype(np.float32)
    x = level * env * np.sin(2 * np.pi * 160 * t) * (1 + 0.3 * np.sin(2 * np.pi * 5 * t)) / 1.3
    pad = np.zeros(int(0.2 * sr))
    x = np.concatenate([pad, x, pad]).astype(np.float32)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(path, x, sr, subtype="PCM_16")
    return path


def silent(path: Path, seconds: float = 5.0) -> Path:
    sf.write(path, np.zeros(int(seconds * 16_000), np.float32), 16_000)
    return path


def clipped(path: Path, seconds: float = 5.0) -> Path:
    t = np.arange(int(seconds * 16_000)) / 16_000
    sf.write(path, np.clip(3 * np.sin(2 * np.pi * 200 * t), -1, 1).astype(np.float32), 16_000, subtype="PCM_16")
    return path


def corrupt(path: Path) -> Path:
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage-that-is-not-a-wav-header" * 3)
    return path


def pink_noise(seconds: float, sr: int = 24_000, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """Pink (1/f) noise: loud, broadband, not silent, and no speech in it."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spectrum / np.sqrt(f), n)
    return (level * y / np.max(np.abs(y))).astype(np.float32)


def music(seconds: float, sr: int = 24_000, level: float = 0.5) -> np.ndarray:
    """Instrumental music: plucked notes with harmonics (two a second) over a bass drone."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 110 * t)
    notes = [220.0, 277.2, 329.6, 440.0, 392.0, 293.7, 246.9, 329.6]
    step = sr // 2
    for k, start in enumerate(range(0, t.size, step)):
        tt = t[start:start + step] - t[start]
        f0 = notes[k % len(notes)]
        y[start:start + step] += sum(np.exp(-3 * tt) * np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6))
    return (level * y / np.max(np.abs(y))).astype(np.float32)


def write(path: Path, *parts: np.ndarray | Path, sr: int = 24_000) -> Path:
    """A 24 kHz mono clip of ``parts`` one after another (arrays at ``sr``, or clip files)."""
    out = []
    for p in parts:
        if isinstance(p, np.ndarray):
            out.append(p)
            continue
        x, rate = sf.read(p, dtype="float32", always_2d=True)
        from indextts_dub.audio import resample

        out.append(resample(x.mean(axis=1), rate, sr))
    sf.write(path, np.concatenate(out), sr, subtype="PCM_16")
    return path
