"""Audio helpers: exact lengths, pitch kept by the stretcher, silence trimmed."""
from __future__ import annotations

import numpy as np
import pytest

from indextts_dub import audio

SR = 48_000


def tone(freq=220.0, seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x, sr=SR):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spec)]


@pytest.mark.parametrize("ratio", [0.8, 0.97, 1.03, 1.25, 1.5])
def test_stretch_is_sample_exact_and_keeps_pitch(ratio):
    x = tone()
    n = int(round(x.size / ratio)) + 7       # an awkward target length on purpose
    y = audio.stretch_to(x, SR, n)
    assert y.size == n and y.dtype == np.float32
    mid = y[n // 4: 3 * n // 4]
    assert abs(dominant_hz(mid) - 220.0) < 3.0


def test_fit_length_pads_and_trims_exactly():
    x = tone(seconds=1.0)
    assert audio.fit_length(x, 50_000, SR).size == 50_000
    y = audio.fit_length(x, 40_000, SR)
    assert y.size == 40_000 and abs(y[-1]) < 1e-3            # faded, no click


def test_trim_silence_keeps_speech_and_a_small_margin():
    x = np.concatenate([np.zeros(SR, np.float32), tone(seconds=1.0), np.zeros(SR // 2, np.float32)])
    y = audio.trim_silence(x, SR)
    assert SR <= y.size <= SR + int(0.05 * SR)
    assert audio.trim_silence(np.zeros(SR, np.float32), SR).size == 0


def test_resample_24k_to_48k_doubles_length():
    y = audio.resample(tone(sr=24_000, seconds=1.0), 24_000, SR)
    assert y.size == SR and abs(dominant_hz(y) - 220.0) < 2.0


def test_write_wav_is_atomic_and_exact(tmp_path):
    import soundfile as sf

    path = audio.write_wav(tmp_path / "a.wav", tone(seconds=0.5), SR)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 1, SR // 2, "PCM_24")
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_spilled_audio_comes_back_exactly_and_leaves_no_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    spill = audio.Spill(tmp_path)
    arrays = [tone(seconds=0.01 * k) * k for k in range(1, 40)]
    with ThreadPoolExecutor(4) as pool:                 # puts from several threads never overlap
        handles = list(pool.map(spill.put, arrays))
    assert [h.size for h in handles] == [a.size for a in arrays]
    for h, a in zip(handles, arrays):
        got = h.load()
        assert got.dtype == np.float32 and np.array_equal(got, a)
        got[:] = 0                                      # a copy: the spill is not changed
    assert np.array_equal(handles[5].load(), arrays[5])
    assert np.array_equal(audio.samples(handles[0]), arrays[0]) and audio.samples(arrays[1]) is arrays[1]
    assert list(tmp_path.iterdir()) == []               # an anonymous file: nothing to commit or leave
