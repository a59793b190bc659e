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

Nothing here holds the programme in memory: the dialogue is the placed clips
(:class:`Dialogue`), the programme is walked in :data:`BLOCK`-sample blocks, the loudness is
integrated block by block (:class:`Loudness`, the same figure pyloudnorm gives for the whole
array), the true peak is found per block with overlap (:class:`TruePeak`), the bed is read and
ducked block by block from an ffmpeg pipe (:class:`Bed`), and every file is written block by block
(:func:`open_audio`). :func:`mix` measures (a pass over the dialogue, one over the bed when
there is one) and :func:`render` writes, so peak memory follows the longest line and the
characters speaking at once, never the programme's length or the cast's size.
"""
from __future__ import annotations

import bisect
import contextlib
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import audio
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
BLOCK = 10 * SAMPLE_RATE       # the programme is walked in blocks of this many samples
TP_CONTEXT = SAMPLE_RATE // 10  # samples of context either side of a true-peak block (soxr VHQ needs far fewer)
QUIET = 1e-30                  # a loudness filter state this small is taken as silence
RING = SAMPLE_RATE // 2         # samples of silence after which the K-weighting has rung out (under QUIET)


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



# ---------------------------------------------------------------- measuring, block by block

class Loudness:
    """Integrated loudness (ITU-R BS.1770-4) of a signal fed block by block, in LUFS: exactly
    what ``pyloudnorm.Meter(sr).integrated_loudness`` says of the whole signal (its K-weighting
    filters with their state carried from block to block, its 400 ms gating blocks at 75 %
    overlap, its absolute and relative gates), holding only the last gating block's samples.

    Silence costs almost nothing: while the input is zero and the filters have rung out
    (state under :data:`QUIET`) nothing is filtered (within a block too: past :data:`RING`
    samples of silence the output is taken as silence, not filtered down into subnormal
    numbers, which cost many times a normal one), and a gating block that holds only silence
    is below the absolute gate anyway, so it is never summed."""

    T_G = 0.4                       # pyloudnorm's gating block, seconds
    STEP = 1.0 - 0.75               # and its step (75 % overlap)
    G = (1.0, 1.0, 1.0, 1.41, 1.41)  # channel weights

    def __init__(self, channels: int = 1, sr: int = SAMPLE_RATE):
        import pyloudnorm
        from scipy.signal import lfilter

        self._lfilter = lfilter
        # pyloudnorm's K-weighting, in its order: the high shelf, then the high pass
        self._stages = [(f.b, f.a, f.passband_gain) for f in (
            pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf"),
            pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sr, "high_pass"))]
        self.channels, self.sr = channels, sr
        self._zi = [np.zeros((max(len(a), len(b)) - 1, channels)) for b, a, _ in self._stages]
        self._quiet = True          # the filters hold (almost) nothing
        self.n = 0                  # samples fed
        self._any = False           # any non-zero input
        self._buf = np.zeros((0, channels))
        self._buf0 = 0              # the absolute sample of _buf[0]
        self._j = 0                 # the next gating block to sum
        self._last = 0              # one past the last non-zero filtered sample
        self._z: list[list[float]] = []   # mean squares per channel of the blocks with any power, in order

    def _lo(self, j: int) -> int:
        return int(self.T_G * (j * self.STEP) * self.sr)

    def _hi(self, j: int) -> int:
        return int(self.T_G * (j * self.STEP + 1) * self.sr)

    def add(self, x: np.ndarray) -> None:
        """The next ``k`` samples: (k,) for one channel, (k, channels) for more."""
        x = np.asarray(x, np.float64)
        k = x.shape[0]
        if k == 0:
            return
        x = x.reshape(k, self.channels)
        if self._quiet and not np.any(x):
            # silence into rung-out filters: silence out. Only gating blocks reaching back to
            # sound need its samples; the rest are skipped.
            keep = min(k, max(0, self._last + self._hi(0) - self.n))
            self._push(np.zeros((keep, self.channels)))
            if keep < k:
                # every block not summed yet starts after the last sound: all silence
                self.n += k - keep
                j = max(self._j, int((self.n / self.sr - self.T_G) / (self.T_G * self.STEP)) - 1)
                while self._hi(j) <= self.n:
                    j += 1
                self._j = j
                self._buf0 = min(self._lo(j), self.n)
                self._buf = np.zeros((self.n - self._buf0, self.channels))
            return
        sound = np.flatnonzero(np.any(x != 0, axis=1))
        self._any = self._any or bool(sound.size)
        y = np.zeros_like(x)
        pos = 0
        # a long run of silence: filtered for RING samples, by then the filters have rung out
        # (their state under QUIET) and the rest of it is silence out. Filtering it all would
        # only make ever smaller values that count for nothing, and once they are subnormal
        # each sample costs many times a normal one (a stem is mostly such runs).
        starts = np.concatenate([[0], sound + 1])
        ends = np.concatenate([sound, [k]])
        for s, e in zip(starts[ends - starts > RING], ends[ends - starts > RING]):
            cut = int(s) + RING
            if cut <= pos:
                continue
            y[pos:cut] = self._filter(x[pos:cut])
            pos = cut
            if self._rung_out():
                pos = int(e)
        if pos < k:
            y[pos:] = self._filter(x[pos:])
        self._rung_out()
        loud = np.flatnonzero(np.any(y != 0, axis=1))
        if loud.size:
            self._last = self.n + int(loud[-1]) + 1
        self._push(y)

    def _filter(self, x: np.ndarray) -> np.ndarray:
        """The K-weighting of the next samples, the filters' state carried."""
        y = x
        for s, (b, a, gain) in enumerate(self._stages):
            y, self._zi[s] = self._lfilter(b, a, y, axis=0, zi=self._zi[s])
            y = gain * y
        return y

    def _rung_out(self) -> bool:
        """Whether the filters hold (almost) nothing; if so their state is cleared."""
        self._quiet = all(float(np.max(np.abs(z))) < QUIET for z in self._zi)
        if self._quiet:
            self._zi = [np.zeros_like(z) for z in self._zi]
        return self._quiet

    def _push(self, y: np.ndarray) -> None:
        if y.shape[0]:
            self._buf = np.concatenate([self._buf, y]) if self._buf.shape[0] else y
            self.n += y.shape[0]
        self._sum(self.n, final=None)

    def _sum(self, upto: int, final: int | None) -> None:
        """Sum the gating blocks that end by ``upto`` (with ``final``: the last ``final`` blocks too,
        cut at the end, as pyloudnorm does), then drop the samples no later block needs."""
        scale = 1.0 / (self.T_G * self.sr)
        while True:
            j = self._j
            if final is not None and j >= final:
                break
            lo, hi = self._lo(j), self._hi(j)
            if final is None and hi > upto:
                break
            self._j += 1
            if lo >= self._last:
                continue            # silence only: below the absolute gate
            seg = self._buf[lo - self._buf0: min(hi, upto) - self._buf0]
            z = [scale * np.sum(np.square(seg[:, i])) for i in range(self.channels)]
            if any(v > 0 for v in z):
                self._z.append(z)
        start = min(self._lo(self._j), self.n)
        if start > self._buf0:
            self._buf = self._buf[start - self._buf0:].copy()     # a copy: the block it came from can go
            self._buf0 = start

    def value(self) -> float | None:
        """The integrated loudness of everything fed; None when too short (0.4 s) or silent."""
        if self.n < int(MIN_LOUDNESS_SECONDS * self.sr) + 1 or not self._any:
            return None
        t = self.n / self.sr
        blocks = int(np.round(((t - self.T_G) / (self.T_G * self.STEP)))) + 1
        self._sum(self.n, final=blocks)
        z, g, ch = self._z, self.G, self.channels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            lj = [-0.691 + 10.0 * np.log10(np.sum([g[i] * zj[i] for i in range(ch)])) for zj in z]
            gated = [k for k, v in enumerate(lj) if v >= -70.0]
            avg = [np.mean([z[k][i] for k in gated]) for i in range(ch)]
            relative = -0.691 + 10.0 * np.log10(np.sum([g[i] * avg[i] for i in range(ch)])) - 10.0
            gated = [k for k, v in enumerate(lj) if v > relative and v > -70.0]
            avg = np.nan_to_num(np.array([np.mean([z[k][i] for k in gated]) for i in range(ch)]))
            with np.errstate(divide="ignore"):
                value = -0.691 + 10.0 * np.log10(np.sum([g[i] * avg[i] for i in range(ch)]))
        return float(value) if np.isfinite(value) else None


class TruePeak:
    """True peak (BS.1770 annex 2: 4x oversampling, soxr very high quality) of a signal fed block
    by block: each block is oversampled with :data:`TP_CONTEXT` samples of its neighbours either
    side, and blocks of silence with silent neighbours are skipped."""

    def __init__(self, sr: int = SAMPLE_RATE):
        self.sr = sr
        self.peak = 0.0
        self._prev: np.ndarray | None = None
        self._before: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32)
        if x.shape[0] == 0:
            return
        if self._prev is not None:
            self._measure(x[:TP_CONTEXT])
            self._before = self._prev[-TP_CONTEXT:].copy()
        self._prev = x

    def _measure(self, after: np.ndarray | None) -> None:
        import soxr

        x = self._prev
        parts = [p for p in (self._before, x, after) if p is not None and p.shape[0]]
        if not any(np.any(p) for p in parts):
            return
        seg = np.ascontiguousarray(np.concatenate(parts)) if len(parts) > 1 else x
        y = soxr.resample(seg, self.sr, self.sr * TP_OVERSAMPLE, quality="VHQ")
        lead = self._before.shape[0] if self._before is not None else 0
        inner = y[lead * TP_OVERSAMPLE: (lead + x.shape[0]) * TP_OVERSAMPLE]
        self.peak = max(self.peak, float(np.max(np.abs(inner))) if inner.size else 0.0, float(np.max(np.abs(x))))

    def value(self) -> float:
        """dBTP of everything fed (-inf for silence)."""
        if self._prev is not None:
            self._measure(None)
            self._before, self._prev = self._prev[-TP_CONTEXT:], None
        return 20 * np.log10(self.peak) if self.peak > 0 else float("-inf")


def _blocks(n: int, block: int = BLOCK) -> Iterator[tuple[int, int]]:
    for a in range(0, n, block):
        yield a, min(n, a + block)


def loudness(x: np.ndarray, sr: int = SAMPLE_RATE) -> float | None:
    """Integrated loudness in LUFS (BS.1770-4) of a whole array; None when too short or silent to measure."""
    x = np.asarray(x)
    meter = Loudness(1 if x.ndim == 1 else x.shape[1], sr)
    for a, b in _blocks(x.shape[0]):
        meter.add(x[a:b])
    return meter.value()


def true_peak_db(x: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """True peak in dBTP of a whole array: the largest magnitude after 4x oversampling (soxr, very high quality)."""
    meter = TruePeak(sr)
    for a, b in _blocks(np.asarray(x).shape[0]):
        meter.add(x[a:b])
    return meter.value()


def _db(g: float) -> float:
    return 20 * np.log10(g) if g > 0 else float("-inf")


def _round(v: float | None, nd: int = 2):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


# ---------------------------------------------------------------- the sources

class Dialogue:
    """The dialogue as placed clips, never as programme-length arrays: ``clips`` maps each
    character to ``(start sample, mono float32)`` pairs (the audio may be
    :class:`~indextts_dub.audio.Spilled`, read when a block needs it; in delivery order:
    overlapping clips of one character add up in that order), ``programme`` is the length in samples, ``pans`` a
    character's -1..1 (any non-zero pan makes the dialogue, and so the mix, stereo)."""

    def __init__(self, programme: int, clips: dict[str, list[tuple[int, np.ndarray | audio.Spilled]]],
                 pans: dict[str, float] | None = None):
        self.programme = programme
        self.characters = list(clips)
        self.pans = {ch: p for ch, p in (pans or {}).items() if ch in clips and abs(p) > 1e-9}
        items = [(start, k, ch, x) for k, (ch, start, x) in
                 enumerate((ch, s, x) for ch, placed in clips.items() for s, x in placed)]
        self._items = sorted(items, key=lambda it: (it[0], it[1]))
        self._starts = [it[0] for it in self._items]
        self._longest = max((int(it[3].size) for it in self._items), default=0)

    @property
    def channels(self) -> int:
        return 2 if self.pans else 1

    def stems(self, a: int, b: int) -> dict[str, np.ndarray]:
        """Samples ``a``..``b`` of each character who speaks in them (float32); the rest are silent."""
        lo = bisect.bisect_left(self._starts, a - self._longest)
        hi = bisect.bisect_left(self._starts, b)
        out: dict[str, np.ndarray] = {}
        for start, _, ch, x in sorted(self._items[lo:hi], key=lambda it: it[1]):
            s0, s1 = max(a, start), min(b, start + int(x.size), self.programme)
            if s1 > s0:
                x = np.asarray(audio.samples(x), np.float32)
                if ch not in out:
                    out[ch] = np.zeros(b - a, np.float32)
                out[ch][s0 - a: s1 - a] += x[s0 - start: s1 - start]
        return out

    def sum(self, stems: dict[str, np.ndarray], k: int) -> np.ndarray:
        """The dialogue of one block (float64): the stems' sum, or their panned sum (k, 2)."""
        if self.pans:
            out = np.zeros((k, 2), np.float64)
            for ch in self.characters:
                if ch in stems:
                    left, right = pan_gains(self.pans.get(ch, 0.0))
                    out[:, 0] += stems[ch] * left
                    out[:, 1] += stems[ch] * right
            return out
        out = np.zeros(k, np.float64)
        for ch in self.characters:
            if ch in stems:
                out += stems[ch]
        return out


def _merged(intervals: list[tuple[int, int]], n: int, attack: int, release: int) -> list[list[int]]:
    merged: list[list[int]] = []
    for a, b in sorted((max(0, a), min(n, b)) for a, b in intervals if b > a):
        if merged and a - merged[-1][1] < attack + release:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    return merged


class Ducking:
    """The bed's gain envelope: 0 outside dialogue, 1 while it plays, raised-cosine ramps of
    ``attack`` samples before each speech interval and ``release`` after; pauses shorter than
    attack + release stay at 1. Computed for any block on demand."""

    def __init__(self, intervals: list[tuple[int, int]], n: int, attack: int, release: int):
        self.n, self.attack, self.release = n, attack, release
        self._merged = _merged(intervals, n, attack, release)
        self._ends = [b for _, b in self._merged]

    def block(self, lo: int, hi: int) -> np.ndarray:
        env = np.zeros(hi - lo, np.float32)
        attack, release = self.attack, self.release
        for a, b in self._merged[bisect.bisect_left(self._ends, lo - release):]:
            if a - attack >= hi:
                break
            s0, s1 = max(a, lo), min(b, hi)
            if s1 > s0:
                env[s0 - lo: s1 - lo] = 1.0
            if attack:
                r0, r1 = max(0, a - attack, lo), min(a, hi)
                if r1 > r0:
                    k = np.arange(r0 - (a - attack), r1 - (a - attack), dtype=np.float64)
                    ramp = 0.5 - 0.5 * np.cos(np.pi * (k + 1) / (attack + 1))
                    env[r0 - lo: r1 - lo] = np.maximum(env[r0 - lo: r1 - lo], ramp.astype(np.float32))
            if release:
                r0, r1 = max(b, lo), min(self.n, b + release, hi)
                if r1 > r0:
                    k = np.arange(r0 - b, r1 - b, dtype=np.float64)
                    ramp = 0.5 + 0.5 * np.cos(np.pi * (k + 1) / (release + 1))
                    env[r0 - lo: r1 - lo] = np.maximum(env[r0 - lo: r1 - lo], ramp.astype(np.float32))
        return env


def duck_envelope(intervals: list[tuple[int, int]], n: int, attack: int, release: int) -> np.ndarray:
    """The whole :class:`Ducking` envelope of ``n`` samples (for a short programme or a test)."""
    return Ducking(intervals, n, attack, release).block(0, n)


class Bed:
    """The background bed: the programme's original audio (the video's first audio track) or a
    music-and-effects stem, read as 48 kHz stereo float32 block by block through an ffmpeg pipe
    (:meth:`reader`), padded with silence or cut to the programme. ``array`` is a bed already in
    memory ((n, 2) float32), for tests and callers that have one."""

    def __init__(self, path: str | Path | None = None, field: str = "--background", array: np.ndarray | None = None):
        self.path, self.field, self.array = path, field, array

    @classmethod
    def from_options(cls, source: str, video_path: str | None) -> "Bed":
        if source == "original":
            if video_path is None:
                raise DubError.at(None, None, "--background", "'original' needs --video (its audio is the background)")
            return cls(video_path, "--background original")
        if not Path(source).is_file():
            raise DubError.at(source, None, "--background", "file not found")
        return cls(source, "--background")

    @contextlib.contextmanager
    def reader(self, programme: int) -> Iterator[Callable[[int], np.ndarray]]:
        """``read(k)``: the next ``k`` frames, (k, 2) float32 (silence once the source ends, nothing
        past ``programme``). The first read of a source ffmpeg cannot decode raises :class:`DubError`."""
        if self.array is not None:
            pos = [0]

            def read_array(k: int) -> np.ndarray:
                out = np.zeros((k, 2), np.float32)
                got = self.array[pos[0]: pos[0] + k]
                out[: got.shape[0]] = got
                pos[0] += k
                return out

            yield read_array
            return
        from ..media import ffmpeg_exe

        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(self.path),
                                     "-map", "0:a:0", "-f", "f32le", "-ac", "2", "-ar", str(SAMPLE_RATE), "-"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
            state = {"first": True, "ended": False, "pos": 0}

            def read(k: int) -> np.ndarray:
                k = max(0, min(k, programme - state["pos"]))
                out = np.zeros((k, 2), np.float32)
                data = b"" if state["ended"] or k == 0 else proc.stdout.read(k * 8)
                if state["first"] and k:
                    state["first"] = False
                    if not data:
                        proc.wait()
                        err.seek(0)
                        why = err.read().decode("utf-8", "replace").strip().splitlines()
                        reason = why[-1] if why else "no audio stream"
                        if "matches no streams" in reason or proc.returncode == 0:
                            reason = "has no audio stream"
                        raise DubError.at(self.path, None, self.field, f"cannot read its audio ({reason})")
                if len(data) < k * 8:
                    state["ended"] = True
                frames = len(data) // 8
                out[:frames] = np.frombuffer(data[: frames * 8], np.float32).reshape(-1, 2)
                state["pos"] += k
                return out

            try:
                yield read
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.stdout.close()
                proc.wait()


def read_background(source: str, programme: int, video_path: str | None) -> np.ndarray:
    """The whole bed as float32 (programme, 2) at 48 kHz (for a short programme or a test; a
    run reads it block by block through :class:`Bed`)."""
    with Bed.from_options(source, video_path).reader(programme) as read:
        return read(programme)


def pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan with unity in the centre: -1 left (0, 1.41) .. 0 (1, 1) .. 1 right (0, 1.41)."""
    angle = (min(1.0, max(-1.0, pan)) + 1) * np.pi / 4
    return float(np.sqrt(2) * np.cos(angle)), float(np.sqrt(2) * np.sin(angle))


# ---------------------------------------------------------------- the mix

@dataclass
class MixResult:
    """What :func:`mix` decided (no audio: :func:`render` makes it block by block)."""

    dialogue_gain_db: float              # applied to every clip and stem
    gain: float                          # the same, linear
    bed_gain: float                      # the ducked bed's true-peak trim, linear (1.0 without one)
    duck_db: float
    ducking: Ducking | None
    figures: dict = field(default_factory=dict)


def mix(dialogue: Dialogue, speech: list[tuple[int, int]], options: MixOptions,
        background: Bed | None = None) -> MixResult:
    """Normalise the dialogue, duck the background under it, bound the true peak: one pass over
    the dialogue's blocks (loudness and true peak), one over the bed's when there is one (the
    mix's true peak). ``speech``: the sample intervals where a line is speaking (for the ducking)."""
    options.check()
    n = dialogue.programme
    meter, peak = Loudness(dialogue.channels), TruePeak()
    for a, b in _blocks(n):
        dia = dialogue.sum(dialogue.stems(a, b), b - a)
        meter.add(dia)
        peak.add(dia)
    measured = meter.value()
    tp_raw = peak.value()
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
    g = 10 ** (gain_db / 20)
    # the true-peak ceiling: hold the gain back if the dialogue, or the whole mix, would pass it
    tp_dialogue = tp_raw + _db(g) if np.isfinite(tp_raw) else tp_raw
    trim_db = min(0.0, options.true_peak - tp_dialogue) if np.isfinite(tp_dialogue) else 0.0
    bed_trim_db = 0.0
    duck_db = 0.0
    ducking = None
    if background is not None:
        duck_db = options.duck_db if options.duck_db is not None else (
            DUCK_DB_ORIGINAL if options.background == "original" else 0.0)
        ducking = Ducking(speech, n, options.attack_ms * SAMPLE_RATE // 1000, options.release_ms * SAMPLE_RATE // 1000)
        trial = TruePeak()
        with background.reader(n) as read:
            for a, b in _blocks(n):
                bed = _ducked(read(b - a), ducking, duck_db, a, b)
                scaled = dialogue.sum(dialogue.stems(a, b), b - a) * g * 10 ** (trim_db / 20)
                trial.add((scaled if scaled.ndim == 2 else scaled[:, None]) + bed)
        tp_mix = trial.value()
        if np.isfinite(tp_mix) and tp_mix > options.true_peak:
            bed_trim_db = options.true_peak - tp_mix - 0.05
            trim_db += bed_trim_db
    if trim_db < 0:
        notes.append(f"gain held back {-trim_db:.1f} dB by the {options.true_peak:.1f} dBTP true-peak ceiling")
    g_total = g * 10 ** (trim_db / 20)
    figures = {
        "loudness_target_lufs": options.loudness,
        "true_peak_ceiling_dbtp": options.true_peak,
        "dialogue_measured_lufs": _round(measured),
        "dialogue_gain_db": _round(_db(g_total)),
        "dialogue_gain_db_exact": float(_db(g_total)) if g_total > 0 else None,   # what a re-run may keep
        "background": None if background is None else {"source": options.background, "duck_db": duck_db,
                                                        "attack_ms": options.attack_ms,
                                                        "release_ms": options.release_ms,
                                                        "trim_db": _round(bed_trim_db)},
        "format": options.format,
        "pans": {ch: round(p, 3) for ch, p in dialogue.pans.items()},
        "notes": notes,
    }
    return MixResult(_db(g_total), g_total, 10 ** (bed_trim_db / 20), duck_db, ducking, figures)


def _ducked(bed: np.ndarray, ducking: Ducking, duck_db: float, a: int, b: int) -> np.ndarray:
    gain_curve = np.power(10.0, -duck_db * ducking.block(a, b) / 20.0).astype(np.float32)
    return bed * gain_curve[:, None]


@dataclass(frozen=True)
class Targets:
    """Where :func:`render` writes: a file per character, the mix, and the ducked bed (with a background)."""

    stems: dict[str, Path]
    mix: Path
    background: Path | None = None


def render(dialogue: Dialogue, mixed: MixResult, options: MixOptions, targets: Targets,
           background: Bed | None = None) -> dict:
    """Write the stems (after gain, mono), the ducked bed and the mix (mono without a
    background, else (n, 2)) block by block, each file atomically, measuring what was written;
    returns ``mixed.figures`` completed with those figures."""
    n = dialogue.programme
    stereo = background is not None or dialogue.channels == 2
    stem_meters = {ch: Loudness(1) for ch in dialogue.characters}
    dia_meter, dia_peak = Loudness(dialogue.channels), TruePeak()
    mix_meter, mix_peak = Loudness(2 if stereo else 1), TruePeak()
    g_total, bed_gain = mixed.gain, mixed.bed_gain
    with contextlib.ExitStack() as files:
        stem_out = {ch: files.enter_context(open_audio(targets.stems[ch], options.format, 1, n))
                    for ch in dialogue.characters}
        bed_out = None
        read = None
        if background is not None:
            read = files.enter_context(background.reader(n))
            bed_out = files.enter_context(open_audio(targets.background, options.format, 2, n))
        mix_out = files.enter_context(open_audio(targets.mix, options.format, 2 if stereo else 1, n))
        for a, b in _blocks(n):
            k = b - a
            stems = dialogue.stems(a, b)
            for ch in dialogue.characters:
                x = (stems[ch] * g_total).astype(np.float32) if ch in stems else np.zeros(k, np.float32)
                stem_out[ch](x)
                stem_meters[ch].add(x)
            dia = (dialogue.sum(stems, k) * g_total).astype(np.float32)
            dia_meter.add(dia)
            dia_peak.add(dia)
            if read is not None:
                bed = (_ducked(read(k), mixed.ducking, mixed.duck_db, a, b) * bed_gain).astype(np.float32)
                bed_out(bed)
                the_mix = (dia if dia.ndim == 2 else dia[:, None]) + bed
                mix_meter.add(the_mix)
                mix_peak.add(the_mix)
            else:
                the_mix = dia               # without a bed the mix is the dialogue: measured once
            mix_out(the_mix)
    figures = dict(mixed.figures)
    dia_lufs, dia_tp = _round(dia_meter.value()), _round(dia_peak.value())
    figures.update({
        "dialogue_lufs": dia_lufs,
        "dialogue_true_peak_dbtp": dia_tp,
        "mix_lufs": _round(mix_meter.value()) if read is not None else dia_lufs,
        "mix_true_peak_dbtp": _round(mix_peak.value()) if read is not None else dia_tp,
        "stems_lufs": {ch: _round(m.value()) for ch, m in stem_meters.items()},
    })
    keys = ["loudness_target_lufs", "true_peak_ceiling_dbtp", "dialogue_measured_lufs", "dialogue_gain_db",
            "dialogue_gain_db_exact", "dialogue_lufs", "dialogue_true_peak_dbtp", "mix_lufs", "mix_true_peak_dbtp",
            "stems_lufs", "background", "format", "pans", "notes"]
    return {k: figures[k] for k in keys}


# ---------------------------------------------------------------- files

class Dither:
    """TPDF dither for 16-bit output, one LSB peak: the difference of two uniform streams from one
    seed, the second starting where the first ends after ``total`` values, so a file written block
    by block gets exactly the dither of one whole-array draw (the same input gives the same file)."""

    LSB = 1.0 / 32768

    def __init__(self, total: int):
        self._a = np.random.default_rng(0)
        self._b = np.random.default_rng(0)
        self._b.bit_generator.advance(total // 2)     # each 64-bit step gives two float32 draws
        if total % 2:
            self._b.random(1, np.float32)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return y + (self._a.random(y.shape, np.float32) - self._b.random(y.shape, np.float32)) * self.LSB


@contextlib.contextmanager
def open_audio(path: str | Path, fmt: str, channels: int, frames: int,
               sr: int = SAMPLE_RATE) -> Iterator[Callable[[np.ndarray], None]]:
    """A file in one of :data:`FORMATS` written block by block: yields ``write(block)`` for mono
    (k,) or (k, channels) blocks; ``frames`` is the file's length (16-bit dither depends on it).
    The file appears when the block ends without an error (:func:`indextts_dub.audio.open_wav`)."""
    container, subtype, _ = FORMATS[fmt]
    dither = Dither(frames * channels) if subtype == "PCM_16" else None
    with audio.open_wav(path, sr, channels, subtype, container) as write:
        def put(x: np.ndarray) -> None:
            y = np.asarray(x, np.float32)
            write(dither(y) if dither is not None else y)

        yield put


def write_audio(path: str | Path, x: np.ndarray, fmt: str = "wav24", sr: int = SAMPLE_RATE) -> Path:
    """Write a whole mono (n,) or multichannel (n, ch) array in one of :data:`FORMATS`, atomically
    (see :func:`open_audio`)."""
    x = np.asarray(x, np.float32)
    with open_audio(path, fmt, 1 if x.ndim == 1 else x.shape[1], x.shape[0], sr) as write:
        for a, b in _blocks(x.shape[0]):
            write(x[a:b])
    return Path(path)
