"""Stage 6a, the delivery mix: dialogue loudness, true peak, the background bed, file formats.

* The dialogue (the sum of the character stems) is normalised to a loudness target,
  integrated over the programme (EBU R128 / ITU-R BS.1770-4 through pyloudnorm; default
  -23 LUFS, -16 for the web). One gain for every clip and stem, so their balance stays.
* The true peak (4x oversampled with soxr, as BS.1770 annex 2 asks) of the dialogue and of
  the mix stays under a ceiling (default -1 dBTP): if the loudness gain would pass it, the
  gain is held back and the report says by how much (no limiter: stems keep summing to
  the mix exactly).
* An optional background: the programme's original audio (read from the video with the
  bundled ffmpeg) or a music-and-effects stem, ducked while dialogue plays with
  raised-cosine ramps that start before the speech (the plan knows the future) and
  release after it; pauses shorter than the ramps stay ducked, so the bed does not pump.
* Stems and the mix are written as WAV 16-bit (TPDF-dithered), 24-bit, 32-bit float, or FLAC.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DubError
from ..timebase import SAMPLE_RATE

FORMATS = {            # name -> (soundfile format, subtype, extension)
    "wav16": ("WAV", "PCM_16", ".wav"),
    "wav24": ("WAV", "PCM_24", ".wav"),
    "float": ("WAV", "FLOAT", ".wav"),
    "flac": ("FLAC", "PCM_24", ".flac"),
}
MIN_LOUDNESS_SECONDS = 0.4     # pyloudnorm's gating block; shorter audio has no integrated loudness
DUCK_DB_ORIGINAL = 12.0
TP_OVERSAMPLE = 4


@dataclass(frozen=True)
class MixOptions:
    loudness: float | None = -23.0        # LUFS target for the dialogue; None leaves levels as spoken
    true_peak: float = -1.0               # dBTP ceiling
    background: str | None = None         # None, "original", or a path to an M&E stem
    duck_db: float | None = None          # default 12 dB under the original audio, 0 under an M&E stem
    attack_ms: int = 200                  # ramp down before speech
    release_ms: int = 400                 # ramp up after speech
    format: str = "wav24"
    # the previous run's dialogue gain: kept while it leaves the dialogue within keep_tolerance_lu
    # of the target, so an edit re-renders only the lines it touched (every clip carries the gain)
    keep_gain_db: float | None = None
    keep_tolerance_lu: float = 0.5

    def check(self) -> None:
        if self.format not in FORMATS:
            raise DubError.at(None, None, "--format", f"{self.format!r} is not one of {', '.join(FORMATS)}")
        if self.loudness is not None and not -70 <= self.loudness <= 0:
            raise DubError.at(None, None, "--loudness", f"{self.loudness} LUFS is outside -70..0")
        if not -20 <= self.true_peak <= 0:
            raise DubError.at(None, None, "--true-peak", f"{self.true_peak} dBTP is outside -20..0")
        if self.duck_db is not None and not 0 <= self.duck_db <= 60:
            raise DubError.at(None, None, "--duck-db", f"{self.duck_db} dB is outside 0..60")
        if self.attack_ms < 0 or self.release_ms < 0:
            raise DubError.at(None, None, "--duck-ramp", "ramps must not be negative")

    @property
    def extension(self) -> str:
        return FORMATS[self.format][2]


@dataclass
class MixResult:
    dialogue_gain_db: float              # applied to every clip and stem
    stems: dict[str, np.ndarray]         # after gain, mono, programme length
    background: np.ndarray | None        # ducked bed after gain, (n, ch), or None
    mix: np.ndarray                      # mono (n,) without background, else (n, ch)
    figures: dict = field(default_factory=dict)


def loudness(x: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """Integrated loudness in LUFS (BS.1770-4); None when too short or silent to measure."""
    import pyloudnorm

    if x.shape[0] < int(MIN_LOUDNESS_SECONDS * sr) + 1 or not np.any(x):
        return None
    value = pyloudnorm.Meter(sr).integrated_loudness(np.asarray(x, np.float64))
    return float(value) if np.isfinite(value) else None


def true_peak_db(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """True peak in dBTP: the largest magnitude after 4x oversampling (soxr, very high quality)."""
    import soxr

    if x.size == 0:
        return float("-inf")
    y = soxr.resample(np.asarray(x, np.float32), sr, sr * TP_OVERSAMPLE, quality="VHQ")
    peak = max(float(np.max(np.abs(y))), float(np.max(np.abs(x))))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def _db(g: float) -> float:
    return 20 * np.log10(g) if g > 0 else float("-inf")


def _round(v: float | None, nd: int = 2):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def duck_envelope(intervals: list[tuple[int, int]], n: int, attack: int, release: int) -> np.ndarray:
    """0 outside dialogue, 1 while it plays, raised-cosine ramps of ``attack`` samples before
    each speech interval and ``release`` after. Pauses shorter than attack + release stay at 1."""
    env = np.zeros(n, np.float32)
    merged: list[list[int]] = []
    for a, b in sorted((max(0, a), min(n, b)) for a, b in intervals if b > a):
        if merged and a - merged[-1][1] < attack + release:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    for a, b in merged:
        env[a:b] = 1.0
        if attack:
            lo = max(0, a - attack)
            k = np.arange(lo - (a - attack), attack, dtype=np.float64)
            ramp = 0.5 - 0.5 * np.cos(np.pi * (k + 1) / (attack + 1))
            env[lo:a] = np.maximum(env[lo:a], ramp.astype(np.float32))
        if release:
            hi = min(n, b + release)
            k = np.arange(hi - b, dtype=np.float64)
            ramp = 0.5 + 0.5 * np.cos(np.pi * (k + 1) / (release + 1))
            env[b:hi] = np.maximum(env[b:hi], ramp.astype(np.float32))
    return env


def read_background(source: str, programme: int, video_path: str | None) -> np.ndarray:
    """The bed as float32 (programme, channels) at 48 kHz, padded or cut to the programme."""
    from ..media import ffmpeg_exe

    if source == "original":
        if video_path is None:
            raise DubError.at(None, None, "--background", "'original' needs --video (its audio is the background)")
        path, field_ = video_path, "--background original"
    else:
        path, field_ = source, "--background"
        if not Path(path).is_file():
            raise DubError.at(path, None, "--background", "file not found")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
                           "-f", "f32le", "-ac", "2", "-ar", str(SAMPLE_RATE), "-"], capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = why[-1] if why else "no audio stream"
        if "matches no streams" in reason or not proc.stdout:
            reason = "has no audio stream"
        raise DubError.at(path, None, field_, f"cannot read its audio ({reason})")
    x = np.frombuffer(proc.stdout, np.float32).reshape(-1, 2)
    out = np.zeros((programme, 2), np.float32)
    k = min(programme, x.shape[0])
    out[:k] = x[:k]
    return out


def pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan with unity in the centre: -1 left (0, 1.41) .. 0 (1, 1) .. 1 right (0, 1.41)."""
    angle = (min(1.0, max(-1.0, pan)) + 1) * np.pi / 4
    return float(np.sqrt(2) * np.cos(angle)), float(np.sqrt(2) * np.sin(angle))


def mix(stems: dict[str, np.ndarray], speech: list[tuple[int, int]], options: MixOptions,
        background: np.ndarray | None = None, pans: dict[str, float] | None = None) -> MixResult:
    """Normalise the dialogue, duck the background under it, bound the true peak.

    ``stems``: character -> mono float32 of programme length; ``speech``: the sample
    intervals where a line is speaking (for the ducking); ``pans``: character -> -1..1 (the
    casting file's ``pan``): any non-zero pan makes the dialogue, and so the mix, stereo."""
    options.check()
    n = next(iter(stems.values())).shape[0] if stems else (background.shape[0] if background is not None else 0)
    pans = {ch: p for ch, p in (pans or {}).items() if ch in stems and abs(p) > 1e-9}
    if pans:
        dialogue = np.zeros((n, 2), np.float64)
        for ch, x in stems.items():
            left, right = pan_gains(pans.get(ch, 0.0))
            dialogue[:, 0] += x * left
            dialogue[:, 1] += x * right
    else:
        dialogue = np.sum(list(stems.values()), axis=0, dtype=np.float64) if stems else np.zeros(n)
    measured = loudness(dialogue)
    gain_db = 0.0
    notes: list[str] = []
    if options.loudness is not None:
        if measured is None:
            notes.append("dialogue too short or silent to measure loudness (pyloudnorm needs 0.4 s): level left as spoken")
        else:
            gain_db = options.loudness - measured
            if options.keep_gain_db is not None and np.isfinite(options.keep_gain_db) and \
                    options.keep_gain_db != gain_db and \
                    abs(measured + options.keep_gain_db - options.loudness) <= options.keep_tolerance_lu:
                gain_db = options.keep_gain_db
                notes.append(f"gain kept from the previous run: dialogue at "
                             f"{measured + gain_db:.2f} LUFS, within {options.keep_tolerance_lu} LU of the target, "
                             "so unchanged lines keep their audio")
    bed = None
    duck_db = 0.0
    if background is not None:
        duck_db = options.duck_db if options.duck_db is not None else (
            DUCK_DB_ORIGINAL if options.background == "original" else 0.0)
        env = duck_envelope(speech, n, options.attack_ms * SAMPLE_RATE // 1000,
                            options.release_ms * SAMPLE_RATE // 1000)
        gain_curve = np.power(10.0, -duck_db * env / 20.0).astype(np.float32)
        bed = background * gain_curve[:, None]
    g = 10 ** (gain_db / 20)
    # the true-peak ceiling: hold the gain back if the dialogue, or the whole mix, would pass it
    tp_dialogue = true_peak_db(dialogue * g)
    trim_db = min(0.0, options.true_peak - tp_dialogue) if np.isfinite(tp_dialogue) else 0.0
    bed_trim_db = 0.0
    if bed is not None:
        scaled = dialogue * g * 10 ** (trim_db / 20)
        trial = (scaled if scaled.ndim == 2 else scaled[:, None]) + bed
        tp_mix = max(true_peak_db(trial[:, 0]), true_peak_db(trial[:, 1]))
        if np.isfinite(tp_mix) and tp_mix > options.true_peak:
            bed_trim_db = options.true_peak - tp_mix - 0.05
            trim_db += bed_trim_db
    if trim_db < 0:
        notes.append(f"gain held back {-trim_db:.1f} dB by the {options.true_peak:.1f} dBTP true-peak ceiling")
    g_total = g * 10 ** (trim_db / 20)
    out_stems = {ch: (x * g_total).astype(np.float32) for ch, x in stems.items()}
    dia = (dialogue * g_total).astype(np.float32)
    if bed is not None:
        bed = (bed * 10 ** (bed_trim_db / 20)).astype(np.float32)
        the_mix = (dia if dia.ndim == 2 else dia[:, None]) + bed
    else:
        the_mix = dia
    figures = {
        "loudness_target_lufs": options.loudness,
        "true_peak_ceiling_dbtp": options.true_peak,
        "dialogue_measured_lufs": _round(measured),
        "dialogue_gain_db": _round(_db(g_total)),
        "dialogue_gain_db_exact": float(_db(g_total)) if g_total > 0 else None,   # what a re-run may keep
        "dialogue_lufs": _round(loudness(dia)),
        "dialogue_true_peak_dbtp": _round(true_peak_db(dia)),
        "mix_lufs": _round(loudness(the_mix)),
        "mix_true_peak_dbtp": _round(max(true_peak_db(the_mix[:, c]) for c in range(the_mix.shape[1]))
                                     if the_mix.ndim == 2 else true_peak_db(the_mix)),
        "stems_lufs": {ch: _round(loudness(x)) for ch, x in out_stems.items()},
        "background": None if bed is None else {"source": options.background, "duck_db": duck_db,
                                                 "attack_ms": options.attack_ms, "release_ms": options.release_ms,
                                                 "trim_db": _round(bed_trim_db)},
        "format": options.format,
        "pans": {ch: round(p, 3) for ch, p in pans.items()},
        "notes": notes,
    }
    return MixResult(_db(g_total), out_stems, bed, the_mix, figures)


def write_audio(path: str | Path, x: np.ndarray, fmt: str = "wav24", sr: int = SAMPLE_RATE) -> Path:
    """Write mono (n,) or multichannel (n, ch) audio in one of :data:`FORMATS`, atomically
    (:func:`indextts_dub.audio.write_wav`). 16-bit output gets TPDF dither (seeded: the same
    input gives the same file)."""
    from ..audio import write_wav

    container, subtype, _ = FORMATS[fmt]
    y = np.asarray(x, np.float32)
    if subtype == "PCM_16":
        rng = np.random.default_rng(0)
        lsb = 1.0 / 32768
        y = y + (rng.random(y.shape, np.float32) - rng.random(y.shape, np.float32)) * lsb
    return write_wav(path, y, sr, subtype, container)
