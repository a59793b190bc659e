"""The whole run: the stages in order, each a plain function over plain data.

    cues -> lines -> natural takes -> plan -> takes at speed -> fitted clips -> outputs

The CLI, the Python API (:func:`indextts_dub.dub`) and the editor plugins all call
:func:`dub`.
"""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import audio, engines, media, otio_out, report
from .casting import Cast, Casting, cast as cast_lines, load_cast
from .otio_cues import load_inputs
from .otio_in import TimelineIn, TimelineOptions
from .errors import DubError, Problems
from .fit import Clip, fit
from .plan import SPEED_BOUNDS, Plan, plan as make_plan
from .staging import Staging
from .synthesis import Synthesizer
from .timebase import SAMPLE_RATE, timecode

MIX_PEAK_DB = -1.0

Progress = Callable[[str, int, int], None]   # (phase, done, total)


@dataclass
class DubResult:
    out: Path
    clips: list[Clip]
    plan: Plan
    casting: Casting
    facts: report.RunFacts
    summary: str
    files: dict[str, Path] = field(default_factory=dict)


def safe_name(name: str) -> str:
    """A file-name-safe form of a character name (letters of any script are kept)."""
    s = unicodedata.normalize("NFC", name).strip()
    s = re.sub(r"[^\w\-]+", "_", s, flags=re.UNICODE).strip("._")
    return s or "character"


def _file_names(characters: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for ch in characters:
        base = safe_name(ch)
        cand, k = base, 2
        while cand.casefold() in used:
            cand, k = f"{base}_{k}", k + 1
        used.add(cand.casefold())
        names[ch] = cand
    return names


def dub(subtitles: str | Path, cast: str | Path | None = None, video: str | Path | None = None,
        out: str | Path = "out", *, engine: str | None = None, voice: str | None = None,
        encoding: str | None = None, fill: bool = False, allow_overlap: bool = False,
        speed_bounds: tuple[float, float] = SPEED_BOUNDS, progress: Progress | None = None,
        timeline: str | Path | None = None, timeline_options: TimelineOptions | None = None) -> DubResult:
    """Dub a subtitle file: speak every line with its character's voice, fit it to its
    slot, and write clips, stems, the mix, the timeline, the plan and (with a video) the
    muxed video into ``out``. Raises :class:`DubError` for bad input, before writing anything.

    ``subtitles`` may be an editor timeline (its markers or clips carry the dialogue), or
    ``timeline`` gives one to dub the subtitles against (see :mod:`otio_cues`).
    """
    t_start = time.perf_counter()
    lo, hi = speed_bounds
    if not 0 < lo <= 1 <= hi:
        raise DubError.at(None, None, "--speed", f"speed bounds must satisfy 0 < min <= 1 <= max (got {lo}, {hi})")
    staging = Staging(out)
    try:
        cues, source, name = load_inputs(subtitles, timeline, encoding, timeline_options)
        the_cast = load_cast(cast) if cast is not None else Cast(file="<no casting file>", engine=engine or "kokoro",
                                                                   default_voice=voice)
        engine_name = engine or the_cast.engine
        try:
            info = engines.describe(engine_name)
        except engines.EngineError as exc:
            raise DubError.at(the_cast.file, the_cast.lines.get("engine"), "engine", str(exc)) from None
        if the_cast.default_voice is None and not the_cast.characters:
            the_cast = Cast(the_cast.file, engine_name, voice or info.voice_ids()[0])
        video_info = media.probe(video) if video is not None else None
        casting = cast_lines(cues, the_cast, info, allow_overlap=allow_overlap)
        if not casting.lines:
            raise DubError.at(subtitles, None, None, "no cue has anything to say: "
                              + "; ".join(f"line {s.cue.line}: {s.reason}" for s in casting.skipped[:5]))
        if video_info is not None:
            problems = Problems()
            for ln in casting.lines:
                if ln.cue.start >= video_info.duration:
                    problems.add(ln.cue.file, ln.cue.line, "start",
                                 f"starts at {timecode(ln.cue.start)}, after the video ends ({timecode(video_info.duration)})")
            problems.raise_if_any()
        lines = casting.lines

        try:
            eng = engines.load(engine_name)
        except engines.EngineError as exc:
            raise DubError.at(the_cast.file, the_cast.lines.get("engine"), "engine", str(exc)) from None
        synth = Synthesizer(eng)
        naturals = {}
        for i, ln in enumerate(lines):
            naturals[ln.index] = synth.natural(ln)
            if progress:
                progress("speaking", i + 1, len(lines))
        programme_end = source.length if source is not None else (video_info.duration if video_info else None)
        the_plan = make_plan(lines, {k: t.samples for k, t in naturals.items()},
                             programme_end, bounds=(lo, hi), fill=fill)
        clips: list[Clip] = []
        todo = [e for e in the_plan.entries if abs(e.speed - 1.0) > 1e-6]
        done = 0
        for ln, entry in zip(lines, the_plan.entries):
            take = naturals[ln.index]
            if abs(entry.speed - 1.0) > 1e-6:
                take = synth.at_target(ln, take, entry.speed, entry.target, (lo, hi))
                done += 1
                if progress:
                    progress("fitting", done, len(todo))
            clips.append(fit(take, entry, ln))

        programme = programme_end or max(max(c.end for c in clips), max(ln.cue.end for ln in lines))
        facts = _deliver(staging, clips, lines, the_plan, casting, programme, video_info, info, subtitles, synth,
                         source, name, timeline_options)
        facts.wall_seconds = time.perf_counter() - t_start
        placed = staging.commit()
    except BaseException:
        staging.abort()
        raise
    files = {p.name: p for p in placed}
    summary = report.summary_text(clips, casting.skipped, casting.warnings, facts)
    return DubResult(Path(out), clips, the_plan, casting, facts, summary, files)


def _deliver(staging: Staging, clips: list[Clip], lines, the_plan: Plan, casting: Casting, programme: int,
             video_info: media.VideoInfo | None, info: engines.EngineInfo, subtitles, synth: Synthesizer,
             source: TimelineIn | None = None, name: str = "dub", timeline_options: TimelineOptions | None = None
             ) -> report.RunFacts:
    characters = list(dict.fromkeys(ln.character for ln in lines))
    fnames = _file_names(characters)
    stems = {ch: np.zeros(programme, np.float32) for ch in characters}
    for c in clips:
        end = min(c.end, programme)
        stems[c.line.character][c.start:end] += c.audio[: end - c.start]
    mix = np.sum(list(stems.values()), axis=0) if stems else np.zeros(programme, np.float32)
    peak = max([float(np.max(np.abs(mix)))] + [float(np.max(np.abs(s))) for s in stems.values()] + [1e-9])
    limit = 10 ** (MIX_PEAK_DB / 20)
    gain = min(1.0, limit / peak)
    gain_db = 20 * np.log10(gain)

    media_paths: dict[int, Path] = {}
    for c in clips:
        rel = f"clips/{c.line.index:04d}_{fnames[c.line.character]}.wav"
        audio.write_wav(staging.path(rel), c.audio * gain, SAMPLE_RATE)
        media_paths[c.line.index] = staging.final(rel)
    for ch, x in stems.items():
        audio.write_wav(staging.path(f"stems/{fnames[ch]}.wav"), x * gain, SAMPLE_RATE)
    audio.write_wav(staging.path("dub.wav"), mix * gain, SAMPLE_RATE)

    facts = report.RunFacts(engine=info.name, engine_version=info.version, programme=programme,
                            gain_db=gain_db, engine_seconds=synth.engine_seconds,
                            synthesis_calls=synth.calls)
    timelines = otio_out.write_all(staging, clips, characters, media_paths, programme, name, video_info,
                                   {"engine": info.name, "engine_version": info.version,
                                    "mix_gain_db": round(gain_db, 2),
                                    "subtitles": str(subtitles) if subtitles is not None else None},
                                   source, timeline_options)
    casting.warnings.extend(timelines.notes)
    outputs = {"clips": staging.final("clips/"), "stems": staging.final("stems/"),
               "mix": staging.final("dub.wav"), **timelines.files, "plan": staging.final("plan.json")}
    if video_info is not None:
        name = media.output_name(video_info)
        main_language = max(("zh", "en"), key=lambda lang: sum(ln.language == lang for ln in lines))
        media.mux(video_info, staging.path("dub.wav"), staging.path(name),
                  language={"zh": "chi", "en": "eng"}[main_language])
        outputs["video"] = staging.final(name)
    facts.outputs = {k: str(v) for k, v in outputs.items()}
    report.write_json(report.plan_document(clips, the_plan, casting.skipped, casting.warnings, facts),
                      staging.path("plan.json"))
    return facts
