"""Reference clips (voices and emotion references): read, checked, normalised, hashed, and
shown to engines as files named by that hash.

Beside the engine contract because an engine that clones (IndexTTS2, or a plugin) reads clips
the way the casting stage checked them, without reaching into a stage.

A clip is read with soundfile (WAV, FLAC, OGG, MP3 ...), mixed to mono, resampled to
:data:`CLIP_RATE` with soxr, trimmed of leading and trailing silence, then checked:
not silent, not clipped, and between ``min_s`` and ``max_s`` seconds long (3-15 s for a
voice: IndexTTS2 cuts prompts at 15 s and needs a few seconds to catch a voice). A voice clip
must also hold speech: voice activity detection (:func:`audio.speech_seconds`) must find at
least :data:`VOICE_SPEECH_S` seconds of it, making at least :data:`VOICE_SPEECH_SHARE` of the
clip, so pink noise, music without a voice or room tone is refused, never stored as a voice.

Its identity is the SHA-256 of the normalised samples (16-bit PCM at 24 kHz), never its
path: the same recording under two names is one clip, and a file replaced at the same
path is a new one.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio, fsio

CLIP_RATE = 24_000
VOICE_SECONDS = (3.0, 15.0)
EMOTION_SECONDS = (1.0, 15.0)
SILENT_PEAK_DB = -45.0        # quieter than this everywhere: nothing to learn a voice from
CLIP_LEVEL = 0.999            # |x| at or above this is full scale
CLIPPED_SHARE = 0.001         # more than 0.1 % of samples at full scale, in runs: clipped
VOICE_SPEECH_S = 2.0          # a voice clip holds at least this much speech (voice activity detection) ...
VOICE_SPEECH_SHARE = 0.4      # ... making at least this share of the trimmed clip


class ClipError(ValueError):
    """A clip that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class RefClip:
    audio: np.ndarray          # float32 mono at CLIP_RATE, trimmed
    sample_rate: int
    hash: str                  # sha256 hex of the normalised 16-bit samples
    path: str                  # where it was read from (for messages only)
    original_rate: int
    channels: int
    peak_db: float

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate

    def wav_bytes(self) -> bytes:
        """The normalised clip as a 16-bit WAV file."""
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, _pcm16(self.audio).astype(np.float32) / 32768.0, self.sample_rate, subtype="PCM_16",
                 format="WAV")
        return buf.getvalue()


def _pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def content_hash(x: np.ndarray, sr: int) -> str:
    h = hashlib.sha256()
    h.update(f"pcm16le/{sr}/".encode())
    h.update(_pcm16(x).astype("<i2").tobytes())
    return h.hexdigest()


def _clipped_share(x: np.ndarray) -> float:
    """Share of samples sitting at full scale in runs of 3 or more (a lone peak is not clipping)."""
    at = np.abs(x) >= CLIP_LEVEL
    if not at.any():
        return 0.0
    runs = at[:-2] & at[1:-1] & at[2:]
    return float(runs.sum()) / max(1, x.size)


def read_clip(path: str | Path, seconds: tuple[float, float] = VOICE_SECONDS, what: str = "reference clip",
              speech: bool | None = None) -> RefClip:
    """Read and check a clip; :class:`ClipError` says what is wrong with it. ``speech``: check
    that it holds enough speech (see the module docstring); by default for a voice clip (``seconds``
    is :data:`VOICE_SECONDS`), not for an emotion clip."""
    import soundfile as sf

    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise ClipError(f"{what} {path} is a symbolic link that leads nowhere (a loop, or its target is gone)")
    if not path.exists():
        raise ClipError(f"{what} not found: {path}")
    if path.is_dir():
        raise ClipError(f"{what} {path} is a folder, not an audio file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError for bad files
        raise ClipError(f"cannot read {what} {path.name} as audio ({str(exc).strip() or type(exc).__name__}); "
                        "give a WAV, FLAC or OGG file") from None
    if data.size == 0 or sr <= 0:
        raise ClipError(f"{what} {path.name} holds no audio samples")
    channels = data.shape[1]
    if not np.isfinite(data).all():
        raise ClipError(f"{what} {path.name} holds invalid samples (NaN or infinity)")
    share = max(_clipped_share(data[:, c]) for c in range(channels))
    if share > CLIPPED_SHARE:
        raise ClipError(f"{what} {path.name} is clipped ({100 * share:.2f}% of samples at full scale); "
                        "record it again at a lower level")
    mono = data.mean(axis=1).astype(np.float32)
    peak = float(np.max(np.abs(mono)))
    peak_db = 20 * np.log10(peak) if peak > 0 else float("-inf")
    if peak_db < SILENT_PEAK_DB:
        raise ClipError(f"{what} {path.name} is silent (peak {peak_db:.0f} dBFS)")
    x = audio.resample(mono, int(sr), CLIP_RATE)
    x = audio.trim_silence(x, CLIP_RATE)
    lo, hi = seconds
    n = x.size / CLIP_RATE
    if n < lo:
        raise ClipError(f"{what} {path.name} lasts only {n:.1f} s after trimming silence; "
                        f"it needs {lo:g}-{hi:g} s")
    if n > hi:
        raise ClipError(f"{what} {path.name} lasts {n:.1f} s after trimming silence; "
                        f"it needs {lo:g}-{hi:g} s: cut it to at most {hi:g} s")
    if speech if speech is not None else seconds == VOICE_SECONDS:
        check_speech(x, CLIP_RATE, f"{what} {path.name}")
    return RefClip(x, CLIP_RATE, content_hash(x, CLIP_RATE), str(path), int(sr), channels, peak_db)


def check_speech(x: np.ndarray, sr: int, label: str) -> float:
    """The seconds of speech in a voice clip; :class:`ClipError` when too little of it is speech."""
    found = audio.speech_seconds(x, sr)
    total = x.size / sr
    need = f"a voice needs at least {VOICE_SPEECH_S:g} s of speech"
    if found < VOICE_SPEECH_S:
        kind = "no speech" if found == 0 else f"only {found:.1f} s of speech"
        raise ClipError(f"{label} holds {kind} (voice activity detection, in {total:.1f} s: noise, music or "
                        f"silence are not a voice); {need}: give a recording of one person speaking")
    if found < VOICE_SPEECH_SHARE * total:
        raise ClipError(f"{label} holds only {found:.1f} s of speech in {total:.1f} s "
                        f"({100 * found / total:.0f}%, voice activity detection); {need}, making at least "
                        f"{100 * VOICE_SPEECH_SHARE:.0f}% of the clip: cut it to the speech")
    return found


def clip_from_wav_bytes(data: bytes, label: str = "clip") -> RefClip:
    """A stored normalised clip (as :meth:`RefClip.wav_bytes` wrote it) back into a RefClip."""
    import soundfile as sf

    x, sr = sf.read(io.BytesIO(data), dtype="float32")
    x = np.asarray(x, np.float32).ravel()
    return RefClip(x, int(sr), content_hash(x, int(sr)), label, int(sr), 1,
                   audio.peak_db(x))


def cached_file(clip_hash: str, wav_bytes: bytes | None = None) -> Path:
    """The normalised clip of ``clip_hash`` as ``<user cache>/clips/<hash>.wav`` (written from
    ``wav_bytes`` when it is not there yet): a path that always means one content."""
    path = fsio.cache_dir("clips") / f"{clip_hash}.wav"
    if not path.exists() and wav_bytes is not None:
        fsio.write_bytes(path, wav_bytes)
    return path


def clip_file(clip: RefClip) -> Path:
    """``clip`` as a file named by its content hash (see :func:`cached_file`)."""
    path = cached_file(clip.hash)
    if not path.exists():
        fsio.write_bytes(path, clip.wav_bytes())
    return path


def hashed_file(path: str | Path, expected_hash: str | None, what: str = "voice") -> tuple[str, str]:
    """A clip an engine was handed (``Request.reference``, an emotion clip) as the file named by
    its content hash, and that hash: the only path a model should see, so a path string always
    means one content. ``what`` is ``"voice"`` or ``"emotion"`` (its length limits). A clip that
    changed since the casting file was read is refused (:class:`ClipError`)."""
    p = Path(path)
    if expected_hash and p.stem == expected_hash and p.is_file():
        return str(p), expected_hash
    seconds = VOICE_SECONDS if what == "voice" else EMOTION_SECONDS
    clip = read_clip(p, seconds, f"{what} clip")
    if expected_hash and clip.hash != expected_hash:
        raise ClipError(f"{what} clip {p} changed since the casting file was read; run again")
    return str(clip_file(clip)), clip.hash
