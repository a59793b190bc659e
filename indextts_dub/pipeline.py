"""The whole run: the stages in order, each a plain function over plain data.

    cues -> lines -> natural takes -> plan -> takes at speed -> fitted clips -> outputs

The CLI, the Python API (:func:`indextts_dub.dub`) and the editor plugins all call
:func:`dub`.
"""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import audio, engines, media, report, report_html, timeline
from . import mix as mixing
from .casting import Cast, Casting, cast as cast_lines, load_cast
from .cues import read_cues
from .errors import DubError, Problems
from .fit import Clip, fit
from .plan import SPEED_BOUNDS, Plan, PlanOptions, plan as make_plan
from .plan_per_line import plan_per_line
from .staging import Staging
from .synthesis import Synthesizer
from .timebase import SAMPLE_RATE, timecode

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
        plan_options: PlanOptions | None = None, mix_options: mixing.MixOptions | None = None,
        planner: str = "episode", retime_video: bool = False) -> DubResult:
    """Dub a subtitle file: speak every line with its character's voice, fit it to its
    slot, and write clips, stems, the mix, the timeline, the plan, the report and (with a
    video) the muxed video into ``out``. Raises :class:`DubError` for bad input, before
    writing anything.

    ``plan_options`` (:class:`indextts_dub.plan.PlanOptions`) sets the overflow policy,
    lead-in, gaps...; ``speed_bounds``, ``fill`` override its fields. ``mix_options``
    (:class:`indextts_dub.mix.MixOptions`) sets loudness, true peak, background, format.
    ``planner="per-line"`` uses the per-line baseline instead of the whole-episode plan.
    ``retime_video`` plans in the retimed picture's time and renders it (needs ``video``).
    """
    t_start = time.perf_counter()
    lo, hi = speed_bounds
    popts = _replace(plan_options or PlanOptions(), bounds=(lo, hi), fill=fill or (plan_options or PlanOptions()).fill,
                     retime=retime_video)
    popts.check()
    mopts = mix_options or mixing.MixOptions()
    mopts.check()
    if planner not in ("episode", "per-line"):
        raise DubError.at(None, None, "--planner", f"{planner!r} is not one of episode, per-line")
    if retime_video and video is None:
        raise DubError.at(None, None, "--retime-video", "needs --video")
    if mopts.background is not None and mopts.background != "original" and not Path(mopts.background).is_file():
        raise DubError.at(mopts.background, None, "--background", "file not found")
    if mopts.background == "original" and video is None:
        raise DubError.at(None, None, "--background", "'original' needs --video (its audio is the background)")
    staging = Staging(out)
    try:
        cues = read_cues(subtitles, encoding)
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
        nat = {k: t.samples for k, t in naturals.items()}
        programme_end = video_info.duration if video_info else None
        if planner == "per-line":
            the_plan = plan_per_line(lines, nat, programme_end, popts)
        else:
            the_plan = make_plan(lines, nat, programme_end, popts)
        clips: list[Clip] = []
        todo = [e for e in the_plan.entries if abs(e.speed - 1.0) > 1e-6]
        done = 0
        engine_range = info.speed_range
        for ln, entry in zip(lines, the_plan.entries):
            take = naturals[ln.index]
            if abs(entry.speed - 1.0) > 1e-6:
                take = synth.at_target(ln, take, entry.speed, entry.speech, engine_range)
                done += 1
                if progress:
                    progress("fitting", done, len(todo))
            clips.append(fit(take, entry, ln))

        if the_plan.programme is not None:
            programme = the_plan.programme
        else:
            programme = max(max(c.end for c in clips), max(e.cue_end for e in the_plan.entries))
        facts = _deliver(staging, clips, lines, the_plan, casting, programme, video_info, info, subtitles, synth,
                         mopts)
        facts.wall_seconds = time.perf_counter() - t_start
        placed = staging.commit()
    except BaseException:
        staging.abort()
        raise
    files = {p.name: p for p in placed}
    summary = report.summary_text(clips, casting.skipped, casting.warnings, facts)
    return DubResult(Path(out), clips, the_plan, casting, facts, summary, files)


def _replace(opts: PlanOptions, **kw) -> PlanOptions:
    return replace(opts, **kw)


def _deliver(staging: Staging, clips: list[Clip], lines, the_plan: Plan, casting: Casting, programme: int,
             video_info: media.VideoInfo | None, info: engines.EngineInfo, subtitles, synth: Synthesizer,
             mopts: mixing.MixOptions) -> report.RunFacts:
    characters = list(dict.fromkeys(ln.character for ln in lines))
    fnames = _file_names(characters)
    stems = {ch: np.zeros(programme, np.float32) for ch in characters}
    for c in clips:
        end = min(c.end, programme)
        if end > c.start:
            stems[c.line.character][c.start:end] += c.audio[: end - c.start]

    picture = video_info
    retimed_tmp = None
    if the_plan.retime_applied and video_info is not None:
        from . import retime

        retimed_tmp = staging.path(".retimed" + Path(video_info.path).suffix.lower()
                                   if Path(video_info.path).suffix.lower() in media.MP4_FAMILY else ".retimed.mkv")
        retime.render(video_info, the_plan.retime, retimed_tmp)
        picture = media.probe(retimed_tmp)
    background = None
    if mopts.background is not None:
        background = mixing.read_background(mopts.background, programme,
                                            picture.path if picture is not None else None)
    speech = [(c.start, c.start + c.speech) for c in clips]
    mixed = mixing.mix(stems, speech, mopts, background)
    gain = 10 ** (mixed.dialogue_gain_db / 20)
    ext = mopts.extension

    media_paths: dict[int, Path] = {}
    rel_media: dict[int, str] = {}
    for c in clips:
        rel = f"clips/{c.line.index:04d}_{fnames[c.line.character]}.wav"
        audio.write_wav(staging.path(rel), c.audio * gain, SAMPLE_RATE)
        media_paths[c.line.index] = staging.final(rel)
        rel_media[c.line.index] = rel
    for ch, x in mixed.stems.items():
        mixing.write_audio(staging.path(f"stems/{fnames[ch]}{ext}"), x, mopts.format)
    if mixed.background is not None:
        mixing.write_audio(staging.path(f"background{ext}"), mixed.background, mopts.format)
    mix_name = f"dub{ext}"
    mixing.write_audio(staging.path(mix_name), mixed.mix, mopts.format)

    facts = report.RunFacts(engine=info.name, engine_version=info.version, programme=programme,
                            gain_db=mixed.dialogue_gain_db, engine_seconds=synth.engine_seconds,
                            synthesis_calls=synth.calls, mix=mixed.figures)
    outputs = {"clips": staging.final("clips/"), "stems": staging.final("stems/"),
               "mix": staging.final(mix_name), "timeline": staging.final("timeline.otio"),
               "plan": staging.final("plan.json"), "report": staging.final("report.html"),
               "picture": staging.final("timeline.png")}
    if mixed.background is not None:
        outputs["background"] = staging.final(f"background{ext}")
    if the_plan.retime:
        from . import retime

        retime.write_edit_list(the_plan, staging.path("retime.json"), video_info.fps if video_info else None)
        outputs["retime"] = staging.final("retime.json")
    if picture is not None:
        name = media.output_name(video_info)
        main_language = max(("zh", "en"), key=lambda lang: sum(ln.language == lang for ln in lines))
        media.mux(picture, staging.path(mix_name), staging.path(name),
                  language={"zh": "chi", "en": "eng"}[main_language])
        outputs["video"] = staging.final(name)
    if retimed_tmp is not None:
        retimed_tmp.unlink()
        picture = replace(picture, path=str(staging.final(media.output_name(video_info))))   # the retimed picture
    tl = timeline.build(clips, characters, media_paths, programme, Path(subtitles).stem, picture,
                        extra={"engine": info.name, "engine_version": info.version,
                               "mix_gain_db": round(mixed.dialogue_gain_db, 2), "subtitles": str(subtitles),
                               "video_retimed": the_plan.retime_applied})
    timeline.write(tl, staging.path("timeline.otio"))
    facts.outputs = {k: str(v) for k, v in outputs.items()}
    doc = report.plan_document(clips, the_plan, casting.skipped, casting.warnings, facts, rel_media)
    report.write_json(doc, staging.path("plan.json"))
    report_html.write(staging.path("report.html"), staging.path("timeline.png"), Path(subtitles).name, doc)
    return facts
