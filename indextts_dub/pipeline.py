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

from . import audio, editors, engineopts, engines, media, otio_out, report, report_html
from . import mix as mixing
from .lines import CastFile as Cast, CastLines as Casting, cast_cues as cast_lines, read_cast_file as load_cast
from .voices import prompts
from .voices import resolve as voicing
from .voices.library import default_path as default_library
from .cues import load_cues
from .cues.timeline_in import TimelineIn, TimelineOptions
from .errors import DubError, Problems
from .fit import Clip, fit
from .plan import SPEED_BOUNDS, Plan, PlanOptions, plan as make_plan
from .plan_per_line import plan_per_line
from .cache import DIRNAME as CACHE_DIRNAME, TakeCache
from .fsio import Staging
from .synthesis import NotCached, Synthesizer
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


@dataclass
class Inputs:
    """What the first stages made of the user's files (plain data)."""

    cues: list
    cast: Cast
    info: engines.EngineInfo
    engine_name: str
    options: dict
    video: media.VideoInfo | None
    casting: Casting
    bounds: tuple[float, float]
    fill: bool
    voice_notes: list[str]
    source: TimelineIn | None = None     # the editor timeline dubbed against, if any
    name: str = "dub"                    # the timeline's name

    @property
    def programme_end(self) -> int | None:
        """The hard end of the programme in samples: the timeline's length, else the video's."""
        if self.source is not None:
            return self.source.length
        return self.video.duration if self.video is not None else None


def read_inputs(subtitles: str | Path, cast: str | Path | None = None, video: str | Path | None = None, *,
                engine: str | None = None, voice: str | None = None, encoding: str | None = None,
                allow_overlap: bool = False, speed_bounds: tuple[float, float] | None = None, fill: bool = False,
                library: str | Path | None = None, timeline: str | Path | None = None,
                timeline_options: TimelineOptions | None = None,
                engine_options: dict | None = None) -> Inputs:
    """Cues, cast, engine description, video facts and cast lines; every input problem raises here.

    ``speed_bounds`` and ``fill`` default to the casting file's ``fit``; ``library`` is the voice
    library for ``library:`` voices and the deny list; ``engine_options`` override the cast's
    (see :mod:`engineopts`: the engine checks them, and its files, before anything loads)."""
    if speed_bounds is not None:
        _check_bounds(speed_bounds)
    cues, source, name = load_cues(subtitles, timeline, encoding, timeline_options)
    the_cast = load_cast(cast) if cast is not None else Cast(file="<no casting file>", engine=engine or "kokoro",
                                                               default_voice=voice)
    lo, hi = speed_bounds or the_cast.speed_bounds or SPEED_BOUNDS
    fill = fill or bool(the_cast.fill)
    engine_name = engine or the_cast.engine
    info, options = engineopts.prepare(engine_name, the_cast, engine_options, library)
    if the_cast.default_voice is None and not the_cast.characters:
        # an engine without voices of its own (IndexTTS2) clones the built-in engine's, spoken as a prompt
        the_cast = Cast(the_cast.file, engine_name, voice or (info.voice_ids() or [prompts.DEFAULT_VOICE])[0])
    video_info = media.probe(video) if video is not None else None
    lib_path = Path(library) if library is not None else (
        Path(the_cast.voice_library) if the_cast.voice_library else default_library())
    voices, voice_notes = voicing.resolve(the_cast.voices(), the_cast.file, info,
                                          lambda: _load_engine(engine_name, options, the_cast), lib_path)
    casting = cast_lines(cues, the_cast, info, allow_overlap=allow_overlap, voices=voices, bounds=(lo, hi))
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
    return Inputs(cues, the_cast, info, engine_name, options, video_info, casting, (lo, hi), fill, voice_notes,
                  source, name)


def open_cache(cache: str | Path | bool | None, out: str | Path, limit_bytes: int | None = None) -> TakeCache | None:
    """``None``: the project's own cache in ``<out>/.indextts-dub-cache``; a path: that folder; ``False``: none."""
    if cache is False:
        return None
    root = Path(out) / CACHE_DIRNAME if cache in (None, True) else Path(cache)
    return TakeCache(root, limit_bytes) if limit_bytes else TakeCache(root)


def _load_engine(name: str, options: dict, the_cast: Cast):
    try:
        return engines.load(name, **options)
    except engines.EngineConfigError as exc:
        raise DubError.at(the_cast.file, the_cast.lines.get("engine_options"), "engine_options", str(exc)) from None


def dub(subtitles: str | Path, cast: str | Path | None = None, video: str | Path | None = None,
        out: str | Path = "out", *, engine: str | None = None, voice: str | None = None,
        encoding: str | None = None, fill: bool = False, allow_overlap: bool = False,
        speed_bounds: tuple[float, float] | None = None, cache: str | Path | bool | None = None,
        cache_limit: int | None = None, wait: bool = False, library: str | Path | None = None,
        timeline: str | Path | None = None, timeline_options: TimelineOptions | None = None,
        plan_options: PlanOptions | None = None, mix_options: mixing.MixOptions | None = None,
        planner: str = "episode", retime_video: bool = False, engine_options: dict | None = None,
        editor_copies: tuple[str, ...] | None = None, progress: Progress | None = None) -> DubResult:
    """Dub a subtitle file: speak every line with its character's voice, fit it to its
    slot, and write clips, stems, the mix, the timeline, the plan, the report and (with a
    video) the muxed video into ``out``. Raises :class:`DubError` for bad input, before
    writing anything.

    ``subtitles`` may be an editor timeline (its markers or clips carry the dialogue), or
    ``timeline`` gives one to dub the subtitles against (see :mod:`otio_cues`).
    ``speed_bounds`` and ``fill`` default to the casting file's ``fit``; ``library`` is the
    voice library for ``library:`` voices and the deny list.
    ``plan_options`` (:class:`indextts_dub.plan.PlanOptions`) sets the overflow policy,
    lead-in, gaps...; ``mix_options`` (:class:`indextts_dub.mix.MixOptions`) sets loudness,
    true peak, background, format. ``planner="per-line"`` uses the per-line baseline instead
    of the whole-episode plan. ``retime_video`` plans in the retimed picture's time and
    renders it (needs ``video``).
    Takes are kept in a cache (``<out>/.indextts-dub-cache`` unless ``cache`` names another
    folder, or ``cache=False``): a re-run speaks only lines whose content changed, and a run
    that was killed resumes where it stopped.
    """
    t_start = time.perf_counter()
    mopts = _check_run_options(video, plan_options, mix_options, planner, retime_video)
    editors.resolve(editor_copies)          # a bad format name stops the run before any work
    staging = Staging(out, wait=wait)
    mopts = _keep_previous_gain(mopts, Path(out) / "plan.json")
    try:
        inp = read_inputs(subtitles, cast, video, engine=engine, voice=voice, encoding=encoding,
                          allow_overlap=allow_overlap, speed_bounds=speed_bounds, fill=fill, library=library,
                          timeline=timeline, timeline_options=timeline_options, engine_options=engine_options)
        lines, video_info, info = inp.casting.lines, inp.video, inp.info
        take_cache = open_cache(cache, out, cache_limit)
        synth = Synthesizer(info, lambda: _load_engine(inp.engine_name, inp.options, inp.cast), take_cache)
        naturals = {}
        # an engine that clones speaks one voice's lines together (its conditioning stays hot)
        order = sorted(lines, key=lambda ln: (ln.reference_hash or ln.voice, ln.index)) if info.reference_voice \
            else lines
        for i, ln in enumerate(order):
            naturals[ln.index] = synth.natural(ln)
            if progress:
                progress("speaking", i + 1, len(lines))
        nat = {k: t.samples for k, t in naturals.items()}
        popts = _plan_options(plan_options, inp, retime_video)
        the_plan = (plan_per_line if planner == "per-line" else make_plan)(lines, nat, inp.programme_end, popts)
        clips: list[Clip] = []
        todo = [e for e in the_plan.entries if abs(e.speed - 1.0) > 1e-6]
        done = 0
        for ln, entry in zip(lines, the_plan.entries):
            take = synth.at_target(ln, naturals[ln.index], entry.speed, entry.speech, info.speed_range)
            if abs(entry.speed - 1.0) > 1e-6:
                done += 1
                if progress:
                    progress("fitting", done, len(todo))
            clip = fit(take, entry, ln)
            if ln.gain_db:
                clip.audio = clip.audio * np.float32(10 ** (ln.gain_db / 20))
            clips.append(clip)

        if the_plan.programme is not None:
            programme = the_plan.programme
        else:
            programme = max(max(c.end for c in clips), max(e.cue_end for e in the_plan.entries))
        facts = _deliver(staging, clips, lines, the_plan, inp.casting, programme, video_info, info, subtitles,
                         synth, mopts, inp.source, inp.name, timeline_options, editor_copies)
        facts.wall_seconds = time.perf_counter() - t_start
        placed = staging.commit()
        if take_cache is not None:
            take_cache.prune()
    except BaseException:
        staging.abort()
        raise
    files = {p.name: p for p in placed}
    summary = report.summary_text(clips, inp.casting.skipped, inp.casting.warnings, facts)
    if inp.voice_notes:
        summary = "Voices:\n" + "\n".join(f"  {n}" for n in inp.voice_notes) + "\n" + summary
    return DubResult(Path(out), clips, the_plan, inp.casting, facts, summary, files)


def _check_bounds(speed_bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = speed_bounds
    if not 0 < lo <= 1 <= hi:
        raise DubError.at(None, None, "--speed", f"speed bounds must satisfy 0 < min <= 1 <= max (got {lo}, {hi})")
    return lo, hi


@dataclass(frozen=True)
class Decision:
    """What a re-run would do with one line, and why (``--dry-run``)."""

    line: int
    character: str
    text: str
    action: str         # "reuse", "re-fit" or "synthesize"
    why: str


def dry_run(subtitles: str | Path, cast: str | Path | None = None, video: str | Path | None = None,
            out: str | Path = "out", *, engine: str | None = None, voice: str | None = None,
            encoding: str | None = None, fill: bool = False, allow_overlap: bool = False,
            speed_bounds: tuple[float, float] | None = None, cache: str | Path | bool | None = None,
            library: str | Path | None = None, timeline: str | Path | None = None,
            timeline_options: TimelineOptions | None = None, plan_options: PlanOptions | None = None,
            planner: str = "episode", retime_video: bool = False, engine_options: dict | None = None,
            editor_copies: tuple[str, ...] | None = None, **_ignored) -> list[Decision]:
    """What :func:`dub` would re-synthesize, re-fit or reuse, judged from the take cache and
    the previous run's ``plan.json``; writes nothing and never loads the engine."""
    inp = read_inputs(subtitles, cast, video, engine=engine, voice=voice, encoding=encoding,
                      allow_overlap=allow_overlap, speed_bounds=speed_bounds, fill=fill, library=library,
                      timeline=timeline, timeline_options=timeline_options,
                      engine_options=engine_options)
    lines = inp.casting.lines
    synth = Synthesizer(inp.info, lambda: _load_engine(inp.engine_name, inp.options, inp.cast), open_cache(cache, out),
                        offline=True)
    previous = report.read_previous(Path(out) / "plan.json")
    naturals: dict[int, int] = {}
    missing: set[int] = set()
    for ln in lines:
        try:
            naturals[ln.index] = synth.natural(ln).samples
        except NotCached:
            missing.add(ln.index)
            prev = previous.get((ln.cue.file, ln.cue.line)) or {}
            naturals[ln.index] = prev.get("natural_samples") or ln.cue.length   # an estimate, to plan the rest
    popts = _plan_options(plan_options, inp, retime_video)
    the_plan = (plan_per_line if planner == "per-line" else make_plan)(lines, naturals, inp.programme_end, popts)
    out_list = []
    for ln, entry in zip(lines, the_plan.entries):
        prev = previous.get((ln.cue.file, ln.cue.line))
        content = synth.content(ln)
        if prev is None:
            change = "new line"
        elif prev.get("speech") != ln.speech_text:
            change = f"text changed (was {prev.get('speech')!r})"
        elif prev.get("voice") != ln.voice:
            change = f"voice changed (was {prev.get('voice')})"
        elif prev.get("take") != content:
            change = "engine or rendering changed"
        else:
            change = ""
        if ln.index in missing:
            out_list.append(Decision(ln.index, ln.character, ln.text, "synthesize",
                                     change or "no stored take for this content"))
            continue
        speed_note = ""
        if abs(entry.speed - 1.0) > 1e-6:
            try:
                take = synth.at_target(ln, synth.natural(ln), entry.speed, entry.speech, inp.info.speed_range)
                speed_note = f" (stored take at speed {take.speed:.3f})"
            except NotCached:
                out_list.append(Decision(ln.index, ln.character, ln.text, "synthesize",
                                         f"needs {entry.speed:.3f}x and no stored take is within tolerance"))
                continue
        if change:
            out_list.append(Decision(ln.index, ln.character, ln.text, "re-fit",
                                     f"{change}; its take is stored{speed_note}"))
        elif prev.get("clip", {}).get("start") == entry.start and prev.get("slot", {}).get("length") == ln.cue.length:
            out_list.append(Decision(ln.index, ln.character, ln.text, "reuse", "unchanged" + speed_note))
        else:
            out_list.append(Decision(ln.index, ln.character, ln.text, "re-fit",
                                     f"timing changed (slot {timecode(prev.get('slot', {}).get('start', 0))} -> "
                                     f"{timecode(ln.cue.start)}){speed_note}"))
    return out_list


def _check_run_options(video, plan_options: PlanOptions | None, mix_options: mixing.MixOptions | None,
                       planner: str, retime_video: bool) -> mixing.MixOptions:
    """Options that are wrong whatever the inputs say: checked before anything is written."""
    if plan_options is not None:
        plan_options.check()
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
    return mopts


def _keep_previous_gain(mopts: mixing.MixOptions, previous_plan: Path) -> mixing.MixOptions:
    """Offer the previous run's dialogue gain to the mix (kept while the loudness stays within
    tolerance of the same target), so a re-run changes only the clips it re-rendered."""
    if mopts.keep_gain_db is not None or mopts.loudness is None:
        return mopts
    previous = report.read_previous_document(previous_plan).get("mix") or {}
    gain = previous.get("dialogue_gain_db_exact")
    if isinstance(gain, (int, float)) and previous.get("loudness_target_lufs") == mopts.loudness:
        return replace(mopts, keep_gain_db=float(gain))
    return mopts


def _plan_options(plan_options: PlanOptions | None, inp: Inputs, retime_video: bool) -> PlanOptions:
    """The run's plan options: bounds and fill from the command line or the casting file's ``fit``."""
    popts = replace(plan_options or PlanOptions(), bounds=inp.bounds,
                    fill=inp.fill or (plan_options.fill if plan_options else False), retime=retime_video)
    popts.check()
    return popts


def _deliver(staging: Staging, clips: list[Clip], lines, the_plan: Plan, casting: Casting, programme: int,
             video_info: media.VideoInfo | None, info: engines.EngineInfo, subtitles, synth: Synthesizer,
             mopts: mixing.MixOptions, source: TimelineIn | None = None, name: str = "dub",
             timeline_options: TimelineOptions | None = None,
             editor_copies: tuple[str, ...] | None = None) -> report.RunFacts:
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
    pans = {ln.character: ln.pan for ln in lines if ln.pan}
    mixed = mixing.mix(stems, speech, mopts, background, pans)
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
                            synthesis_calls=synth.calls, mix=mixed.figures, engine_model=info.model_id,
                            cache_damaged=synth.cache.damaged if synth.cache is not None else 0,
                            engine_notes=list(synth.engine.notes) if synth.engine is not None else [])
    outputs = {"clips": staging.final("clips/"), "stems": staging.final("stems/"),
               "mix": staging.final(mix_name), "plan": staging.final("plan.json"),
               "report": staging.final("report.html"), "picture": staging.final("timeline.png")}
    if mixed.background is not None:
        outputs["background"] = staging.final(f"background{ext}")
    if the_plan.retime:
        from . import retime

        retime.write_edit_list(the_plan, staging.path("retime.json"), video_info.fps if video_info else None)
        outputs["retime"] = staging.final("retime.json")
    if picture is not None:
        video_name = media.output_name(video_info)
        main_language = max(("zh", "en"), key=lambda lang: sum(ln.language == lang for ln in lines))
        media.mux(picture, staging.path(mix_name), staging.path(video_name),
                  language={"zh": "chi", "en": "eng"}[main_language])
        outputs["video"] = staging.final(video_name)
    if retimed_tmp is not None:
        retimed_tmp.unlink()
        picture = replace(picture, path=str(staging.final(media.output_name(video_info))))   # the retimed picture
    timelines = otio_out.write_all(staging, clips, characters, media_paths, programme, name, picture,
                                   {"engine": info.name, "engine_version": info.version,
                                    "mix_gain_db": round(mixed.dialogue_gain_db, 2),
                                    "subtitles": str(subtitles) if subtitles is not None else None,
                                    "video_retimed": the_plan.retime_applied},
                                   source, timeline_options, editor_copies)
    casting.warnings.extend(timelines.notes)
    outputs.update(timelines.files)
    facts.outputs = {k: str(v) for k, v in outputs.items()}
    doc = report.plan_document(clips, the_plan, casting.skipped, casting.warnings, facts, voices=casting.voices,
                               media=rel_media)
    report.write_json(doc, staging.path("plan.json"))
    report_html.write(staging.path("report.html"), staging.path("timeline.png"),
                      Path(subtitles).name if subtitles is not None else name, doc)
    return facts
