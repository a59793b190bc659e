"""``plan.json``: what a run did, line by line, for machines (and for the next run)."""
from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cues import Skipped
from ..clips import Clip
from ..fsio import atomic_write
from ..plan import Plan
from ..timebase import SAMPLE_RATE, timecode


@dataclass
class RunFacts:
    """Figures about one run that the report and the benchmarks read."""

    engine: str
    engine_version: str
    programme: int
    gain_db: float
    wall_seconds: float = 0.0
    engine_seconds: float = 0.0
    synthesis_calls: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    mix: dict[str, Any] = field(default_factory=dict)      # loudness, true peak, background (mix.MixResult.figures)
    cache_damaged: int = 0                 # take-cache entries found damaged and spoken again
    engine_model: str = ""                 # EngineInfo.model_id
    engine_notes: list[str] = field(default_factory=list)   # how the engine rendered (its ``notes``)
    stage_seconds: dict[str, float] = field(default_factory=dict)   # wall time per stage (deliver: up to plan.json)


def line_record(clip: Clip, media: str | None = None) -> dict[str, Any]:
    ln = clip.line
    e = clip.entry
    return {
        "index": ln.index,
        "cue_id": ln.cue.id,
        "source": {"file": ln.cue.file, "line": ln.cue.line},
        "character": ln.character,
        "voice": ln.voice,
        "language": ln.language,
        "text": ln.text,
        "speech": ln.speech_text,
        "slot": {"start": ln.cue.start, "end": ln.cue.end, "length": ln.cue.length,
                 "start_tc": timecode(ln.cue.start), "end_tc": timecode(ln.cue.end)},
        "clip": {"start": clip.start, "length": clip.length, "end": clip.end},
        "natural_samples": clip.natural,
        "speech_samples": clip.speech_samples,
        "speed": round(clip.speed, 4),
        "residual_stretch": round(clip.residual, 4),
        "take": clip.take_key,
        "reason": clip.reason,
        "warnings": clip.warnings,
        # the whole-episode plan: tempo heard = natural / speech; the engine's knob and the stretch realize it
        "engine_speed": round(clip.engine_speed, 4),
        "media": media,
        "cue": {"start": e.cue_start if e else ln.cue.start, "end": e.cue_end if e else ln.cue.end},
        "bounds": list(e.bounds) if e else None,
        "lead_samples": e.lead if e else 0,
        "delay_samples": e.delay if e else 0,
        "spill_samples": e.spill if e else 0,
        "overrun_samples": e.overrun if e else 0,
        "overrun_ms": round(e.overrun * 1000 / SAMPLE_RATE, 1) if e else 0.0,
        "limit_sample": e.limit if e else None,
        "compressed": bool(e.compressed) if e else False,
        **({"qa": clip.qa} if clip.qa is not None else {}),
        **line_casting(ln),
    }


def line_casting(ln) -> dict[str, Any]:
    """A line's casting facts for plan.json and the timeline: emotion, bounds, gain, pan, voice source."""
    return {
        "emotion": ln.emotion.record() if ln.emotion is not None else None,
        "speed_bounds": list(ln.speed_bounds) if ln.speed_bounds else None,
        "gain_db": ln.gain_db,
        "pan": ln.pan,
        "voice_source": ln.voice_source,
        "reference_hash": ln.reference_hash,
    }


def plan_document(clips: list[Clip], plan: Plan, skipped: list[Skipped], warnings: list[str],
                  facts: RunFacts, voices: dict[str, dict] | None = None,
                  media: dict[int, str] | None = None) -> dict[str, Any]:
    media = media or {}
    o = plan.options
    return {
        "format": "indextts-dub.plan/1",
        "sample_rate": SAMPLE_RATE,
        "programme_samples": facts.programme,
        "engine": {"name": facts.engine, "version": facts.engine_version,
                   **({"model_id": facts.engine_model} if facts.engine_model else {}),
                   **({"notes": facts.engine_notes} if facts.engine_notes else {})},
        "bounds": {"speed_min": plan.bounds[0], "speed_max": plan.bounds[1], "fill": plan.fill,
                   "min_gap_samples": plan.gap},
        "mix_gain_db": round(facts.gain_db, 2),
        "voices": voices or {},
        "plan": {"method": plan.method, "overflow": o.overflow, "compress_cap": o.compress_cap,
                 "lead_in_ms": o.lead_in_ms, "min_gap_ms": o.min_gap_ms, "max_shift_ms": o.max_shift_ms,
                 "allow_cross_overlap": o.allow_cross_overlap, "smoothness": o.smoothness, "solver": plan.solver},
        "video_retime": {"applied": plan.retime_applied, "edits": [e.as_dict() for e in plan.retime]},
        "mix": facts.mix,
        "lines": [line_record(c, media.get(c.line.index)) for c in clips],
        "skipped": [{"cue_id": s.cue.id, "source": {"file": s.cue.file, "line": s.cue.line},
                     "text": s.cue.text, "reason": s.reason} for s in skipped],
        "warnings": warnings,
        "summary": summary_figures(clips, skipped, facts),
    }


def summary_figures(clips: list[Clip], skipped: list[Skipped], facts: RunFacts | None = None) -> dict[str, Any]:
    """The run in figures; with ``facts``, what it cost: engine calls (``synthesis_calls``, and
    per line), seconds inside the engine and the wall time of each stage."""
    speeds = [c.speed for c in clips]
    residuals = [c.residual for c in clips]
    cost = {} if facts is None else {
        "synthesis_calls": facts.synthesis_calls,
        "synthesis_calls_per_line": round(facts.synthesis_calls / max(1, len(clips)), 3),
        "engine_seconds": round(facts.engine_seconds, 3),
        "stage_seconds": {k: round(v, 3) for k, v in facts.stage_seconds.items()},
    }
    return {
        "lines": len(clips),
        "skipped": len(skipped),
        "characters": dict(Counter(c.line.character for c in clips)),
        "speed": {"min": round(min(speeds), 3), "median": round(statistics.median(speeds), 3),
                  "max": round(max(speeds), 3)} if speeds else {},
        "natural_speed_lines": sum(1 for s in speeds if abs(s - 1) < 1e-6),
        "residual_stretch": {"max": round(max(residuals), 4),
                             "over_5_percent": sum(1 for r in residuals if abs(r - 1) > 0.05)} if residuals else {},
        "spilled_lines": sum(1 for c in clips if c.entry is not None and c.entry.spill > 0),
        "early_lines": sum(1 for c in clips if c.entry is not None and c.entry.lead > 0),
        "overruns": sum(1 for c in clips if c.entry is not None and c.entry.overrun > 0),
        "overrun_ms": round(sum(c.entry.overrun for c in clips if c.entry is not None) * 1000 / SAMPLE_RATE, 1),
        "compressed_lines": sum(1 for c in clips if c.entry is not None and c.entry.compressed),
        "max_speed_jump": round(_max_jump(clips), 4),
        "lines_with_warnings": sum(1 for c in clips if c.warnings),
        **cost,
    }


def read_previous_document(path: Path) -> dict[str, Any]:
    """An earlier run's ``plan.json``; empty if there is none or it is unreadable."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def read_previous(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The line records of an earlier run's ``plan.json``, by (subtitle file, line); empty if none."""
    try:
        return {(r["source"]["file"], r["source"]["line"]): r
                for r in read_previous_document(path).get("lines", [])}
    except (KeyError, TypeError):
        return {}


def _max_jump(clips: list[Clip]) -> float:
    by: dict[str, list[Clip]] = {}
    for c in sorted(clips, key=lambda c: c.start):
        by.setdefault(c.line.character, []).append(c)
    return max((abs(b.speed - a.speed) for g in by.values() for a, b in zip(g, g[1:])), default=0.0)


def write_json(doc: dict[str, Any], path: Path) -> Path:
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    return path
