"""The plan as data: its options (:class:`PlanOptions`), one :class:`PlanEntry` per line,
picture edits it suggests (:class:`RetimeEdit`), the :class:`Plan`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..errors import DubError
from ..lines import Line
from ..lines.castfile import speed_bounds_problem
from ..timebase import SAMPLE_RATE, timecode

SPEED_BOUNDS = (0.75, 1.25)
MIN_GAP_MS = 80
LEAD_IN_MS = 150
COMPRESS_CAP = 1.5
MAX_SHIFT_MS = 1000
POLICIES = ("compress", "shift", "flag")

@dataclass(frozen=True)
class PlanOptions:
    """How the planner trades speed against timing. Times in ms, speeds as ratios."""

    bounds: tuple[float, float] = SPEED_BOUNDS
    line_bounds: Mapping[int, tuple[float, float]] = field(default_factory=dict)   # Line.index -> bounds
    fill: bool = False
    min_gap_ms: int = MIN_GAP_MS
    lead_in_ms: int = LEAD_IN_MS
    allow_cross_overlap: bool = False
    overflow: str = "compress"
    compress_cap: float | None = None       # None: COMPRESS_CAP, or the fastest bound when that is faster
    max_shift_ms: int = MAX_SHIFT_MS
    smoothness: float = 1.0
    retime: bool = False

    @property
    def cap(self) -> float:
        """The fastest a line may go with ``overflow: compress``."""
        return self.compress_cap if self.compress_cap is not None else max(COMPRESS_CAP, self.bounds[1])

    def check(self, bounds_from: str = "--speed-min/--speed-max") -> None:
        """Raises :class:`DubError`; ``bounds_from`` names where :attr:`bounds` came from."""
        lo, hi = self.bounds
        if speed_bounds_problem(lo, hi) is not None:
            raise DubError.at(None, None, "--speed-min/--speed-max", speed_bounds_problem(lo, hi))
        for idx, (a, b) in self.line_bounds.items():
            if speed_bounds_problem(a, b) is not None:
                raise DubError.at(None, None, "speed bounds", f"line {idx}: {speed_bounds_problem(a, b)}")
        if self.overflow not in POLICIES:
            raise DubError.at(None, None, "--overflow", f"{self.overflow!r} is not one of {', '.join(POLICIES)}")
        if self.compress_cap is not None and not self.compress_cap >= hi:
            raise DubError.at(None, None, "--compress-cap", f"must be at least the fastest speed {hi:g} "
                              f"({bounds_from}) (got {self.compress_cap:g})")
        for name in ("min_gap_ms", "lead_in_ms", "max_shift_ms"):
            if getattr(self, name) < 0:
                raise DubError.at(None, None, "--" + name.replace("_", "-"), "must not be negative")
        if self.smoothness < 0:
            raise DubError.at(None, None, "smoothness", "must not be negative")


@dataclass(frozen=True)
class RetimeEdit:
    """Slow the picture between ``start`` and ``end`` (source samples) by ``factor`` (>1)."""

    start: int
    end: int
    factor: float
    extra: int                  # samples the range grows by
    indices: tuple[int, ...]    # Line.index of the lines it makes room for

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "start_tc": timecode(self.start), "end_tc": timecode(self.end),
                "factor": round(self.factor, 6), "extra_samples": self.extra, "lines": list(self.indices)}


@dataclass(frozen=True)
class PlanEntry:
    """One line's place in the plan (times in samples at 48 kHz, in plan time)."""

    index: int           # Line.index
    start: int           # the clip's first sample (= where speech starts), 48 kHz; may precede the cue
    length: int          # the clip's samples: the speech, then silence up to the cue end where there is room
    speech_samples: int  # planned speech length (the fitted clip's speech is exactly this long)
    natural: int         # speech length at the engine's natural reading, trimmed, samples
    speed: float         # tempo a listener hears: natural / speech (1.0 natural, >1 faster)
    cue_start: int       # the cue in plan time (= the subtitle's, unless the picture is retimed)
    cue_end: int
    limit: int           # the latest end the line could have without overrunning, samples
    bounds: tuple[float, float]
    lead: int = 0        # samples started before the cue
    delay: int = 0       # samples started after the cue (overflow: shift)
    spill: int = 0       # samples of speech past the cue end
    overrun: int = 0     # samples past what the line may use (next line of the character, another character, the end)
    compressed: bool = False   # faster than its bound (overflow: compress)
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def speech_end(self) -> int:
        return self.start + self.speech_samples


@dataclass(frozen=True)
class Plan:
    """Every line's entry, in line order, and how the plan was made."""

    entries: list[PlanEntry]
    programme: int | None            # samples (in plan time); None when only the cues bound it
    bounds: tuple[float, float] = SPEED_BOUNDS
    fill: bool = False
    gap: int = MIN_GAP_MS * SAMPLE_RATE // 1000
    options: PlanOptions = field(default_factory=PlanOptions)
    method: str = "episode"
    retime: tuple[RetimeEdit, ...] = ()      # suggested (or, with options.retime, applied) picture edits
    retime_applied: bool = False
    solver: dict = field(default_factory=dict)

    def entry(self, index: int) -> PlanEntry:
        """The entry of the line with this ``Line.index``."""
        for e in self.entries:
            if e.index == index:
                return e
        raise KeyError(index)


def line_bounds(ln: Line, opts: PlanOptions) -> tuple[float, float]:
    """A line's speed bounds: ``opts.line_bounds`` for it, else its own ``speed_bounds`` (set by the
    casting file per character or inline), else the project's."""
    return tuple(opts.line_bounds.get(ln.index) or getattr(ln, "speed_bounds", None) or opts.bounds)
