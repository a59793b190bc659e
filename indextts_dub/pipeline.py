"""The whole run: the stages in order, each a plain function over plain data.

    read_inputs -> natural_takes -> make_plan -> fitted_clips -> deliver.deliver

:func:`dub` runs them into an output folder; :func:`dry_run` says what :func:`dub` would redo.
Both take the inputs and one :class:`DubOptions` (its fields also as keyword arguments). The
CLI, the Python API (:func:`indextts_dub.dub`) and the editor plugins all call :func:`dub`; a
batch runner may call the stages one by one (their inputs and outputs are dataclasses of plain
values, numpy arrays and paths; the takes themselves live in the take cache).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Collection, Mapping

from . import audio, media
from . import deliver as delivery
from .clips import Clip, fit
from .cues import TimelineIn, TimelineOptions, load_cues
from .deliver import plan_json
from .deliver.mix import MixOptions
from .deliver.summary import summary_text
from .deliver.timelines import editors
from .engines import EngineInfo
from .errors import DubError, Problems, SystemFault
from . import fsio
from .fsio import Staging
from .lines import CastFile, CastLines, cast_cues, read_cast_file
from .lines.castfile import speed_bounds_problem
from .plan import SPEED_BOUNDS, Plan, PlanOptions, plan, plan_per_line
from .qa import MODES as QA_MODES
from .qa import check as qa_check
from .qa import retry as qa_retry
from .qa.hearing import model_folder as qa_ready
from .takes import NotCached, Synthesizer, Take, TakeCache
from .takes import engine as engine_setup
from .takes.cache import DEFAULT_LIMIT as DEFAULT_CACHE_LIMIT
from .takes.cache import DIRNAME as CACHE_DIRNAME
from .timebase import SAMPLE_RATE, timecode
from .voices import prompts
from .voices.library import default_path as default_library
from .voices.resolve import resolve as resolve_voices

Progress = Callable[[str, int, int], None]   # (phase, done, total)
PLANNERS = ("episode", "per-line")


@dataclass(frozen=True)
class DubOptions:
    """How a run treats its inputs: everything but the input files and the output folder.

    ``speed_bounds`` and ``fill`` default to the casting file's ``fit``; ``library`` is the voice
    library for ``library:`` voices and the deny list (default: the cast's ``voice_library``, else
    the user's), ``deny_list`` another library file whose deny list applies as well;
    ``engine_options`` override the cast's. ``timeline`` is an editor timeline to dub
    the subtitles against (or the subtitles argument may be a timeline whose markers or clips
    carry the dialogue). ``planner="per-line"`` uses the per-line baseline instead of the
    whole-episode plan; ``retime_video`` plans in the retimed picture's time and renders it.
    Takes are kept in ``cache`` (``<out>/.indextts-dub-cache`` by default, a folder, or False for
    none): a re-run speaks only lines whose content changed, and a killed run resumes.
    """

    engine: str | None = None
    voice: str | None = None                     # for every speaker, when there is no casting file
    encoding: str | None = None
    speak: str | None = None                     # the language of bilingual subtitles to speak (zh, en)
    fill: bool = False
    strict: bool = False                         # refuse one character's overlapping cues
    skip_unspeakable: bool = False               # skip (and list) lines in languages the engine cannot speak
    speed_bounds: tuple[float, float] | None = None
    cache: str | Path | bool | None = None
    cache_limit: int | None = None               # bytes
    wait: bool = False                           # wait for another run writing the same folder
    library: str | Path | None = None
    deny_list: str | Path | None = None          # a library file whose deny list applies too (a studio's, the service's)
    timeline: str | Path | None = None
    timeline_options: TimelineOptions | None = None
    plan_options: PlanOptions | None = None
    mix_options: MixOptions | None = None
    planner: str = "episode"
    retime_video: bool = False
    engine_options: dict | None = None
    editor_copies: tuple[str, ...] | None = None  # None: every format (see deliver.timelines.editors)
    qa: str | None = None                        # "check": every clip heard and scored (indextts_dub.qa)
    qa_threshold: float = 0.25                   # error rate past which a line fails QA

    def check(self, video: str | Path | None) -> None:
        """What is wrong whatever the inputs say, before anything is read or written."""
        if self.speak not in (None, "zh", "en"):
            raise DubError.at(None, None, "--speak", f"{self.speak!r} is not one of zh, en")
        if self.speed_bounds is not None:
            lo, hi = self.speed_bounds
            if speed_bounds_problem(lo, hi) is not None:
                flag = "--speed-min" if speed_bounds_problem(lo, 1.0) is not None else "--speed-max"
                raise DubError.at(None, None, flag, speed_bounds_problem(lo, hi))
        if self.plan_options is not None:
            self.plan_options.check()
        mix = self.mix_options or MixOptions()
        mix.check()
        if self.planner not in PLANNERS:
            raise DubError.at(None, None, "--planner", f"{self.planner!r} is not one of {', '.join(PLANNERS)}")
        if self.retime_video and video is None:
            raise DubError.at(None, None, "--retime-video", "needs --video")
        if mix.background is not None and mix.background != "original" and not Path(mix.background).is_file():
            raise DubError.at(mix.background, None, "--background", "file not found")
        if mix.background == "original" and video is None:
            raise DubError.at(None, None, "--background", "'original' needs --video (its audio is the background)")
        editors.resolve(self.editor_copies)          # a bad format name stops the run before any work
        if self.qa is not None and self.qa not in QA_MODES:
            raise DubError.at(None, None, "--qa", f"{self.qa!r} is not one of {', '.join(QA_MODES)}")
        if not 0 <= self.qa_threshold <= 1:
            raise DubError.at(None, None, "--qa-threshold", f"must lie between 0 and 1 (got {self.qa_threshold})")


def _options(options: DubOptions | None, fields_: dict) -> DubOptions:
    """``options`` with ``fields_`` replaced; a name that is not a field raises TypeError."""
    known = {f.name for f in fields(DubOptions)}
    unknown = sorted(set(fields_) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; DubOptions has {', '.join(sorted(known))}")
    return replace(options or DubOptions(), **fields_)


@dataclass
class Inputs:
    """What the first stages made of the user's files (plain data)."""

    cues: list
    cast_file: CastFile
    engine: EngineInfo
    engine_name: str
    engine_options: dict
    video: media.VideoInfo | None
    cast_lines: CastLines
    bounds: tuple[float, float]
    fill: bool
    voice_notes: list[str]
    subtitles: str | None = None         # the input file as given (a subtitle file, or a timeline with the dialogue)
    source: TimelineIn | None = None     # the editor timeline dubbed against, if any
    name: str = "dub"                    # the timeline's name

    @property
    def programme_end(self) -> int | None:
        """The hard end of the programme in samples: the timeline's length, else the video's."""
        if self.source is not None:
            return self.source.length
        return self.video.duration if self.video is not None else None

    def load_engine(self):
        """The engine, loaded (once per process) on first use."""
        return engine_setup.loader(self.engine_name, self.engine_options, self.cast_file)()


@dataclass
class DubResult:
    out: Path
    clips: list[Clip]
    plan: Plan
    cast_lines: CastLines
    facts: plan_json.RunFacts
    summary: str
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


# ---------------------------------------------------------------- the stages

def read_inputs(subtitles: str | Path | None, cast: str | Path | None = None, video: str | Path | None = None,
                options: DubOptions | None = None, **fields_) -> Inputs:
    """Cues, casting file, engine description, video facts and cast lines; every input problem
    raises :class:`DubError` here, before anything is spoken."""
    opts = _options(options, fields_)
    opts.check(video)
    cues, source, name = load_cues(subtitles, opts.timeline, opts.encoding, opts.timeline_options, opts.speak)
    cast_file = read_cast_file(cast) if cast is not None else CastFile(file="<no casting file>",
                                                                       engine=opts.engine or "kokoro",
                                                                       default_voice=opts.voice)
    lo, hi = opts.speed_bounds or cast_file.speed_bounds or SPEED_BOUNDS
    fill = opts.fill or bool(cast_file.fill)
    engine_name = opts.engine or cast_file.engine
    info, engine_options = engine_setup.prepare(engine_name, cast_file, opts.engine_options, opts.library,
                                                from_flag=opts.engine is not None)
    if cast_file.default_voice is None and not cast_file.characters and not info.voices:
        # an engine without voices of its own (IndexTTS2) clones the built-in engine's, spoken as a prompt
        cast_file = CastFile(cast_file.file, engine_name, opts.voice or (info.voice_ids() or [prompts.DEFAULT_VOICE])[0])
    video_info = media.probe(video) if video is not None else None
    library = Path(opts.library) if opts.library is not None else (
        Path(cast_file.voice_library) if cast_file.voice_library else default_library())
    voices, voice_notes = resolve_voices(cast_file.voices(), cast_file.file, info,
                                         engine_setup.loader(engine_name, engine_options, cast_file), library,
                                         (opts.deny_list,) if opts.deny_list else ())
    cast_lines = cast_cues(cues, cast_file, info, strict=opts.strict, voices=voices, bounds=(lo, hi),
                           skip_unspeakable=opts.skip_unspeakable)
    if not cast_lines.lines:
        raise DubError.at(subtitles, None, None, "no cue has anything to say: "
                          + "; ".join(f"line {s.cue.line}: {s.reason}" for s in cast_lines.skipped[:5]))
    if video_info is not None:
        problems = Problems()
        for ln in cast_lines.lines:
            if ln.cue.start >= video_info.duration:
                problems.add(ln.cue.file, ln.cue.line, "start",
                             f"starts at {timecode(ln.cue.start)}, after the video ends ({timecode(video_info.duration)})")
        problems.raise_if_any()
    inputs = Inputs(cues, cast_file, info, engine_name, engine_options, video_info, cast_lines, (lo, hi), fill,
                    voice_notes, str(subtitles) if subtitles is not None else None, source, name)
    cast_lines.warnings.extend(programme_notes(inputs, opts.mix_options or MixOptions()))
    return inputs


LONG_PROGRAMME_S = 20 * 60       # a programme this long, its dialogue under SPARSE of it: say so
SPARSE = 0.02


def output_bytes(inputs: Inputs, mix: MixOptions) -> int:
    """About how much the outputs of a run take (generously: stems and the mix as long as the
    programme in the chosen format, clips, the muxed video, and the takes and clips the run
    keeps on that disk while it works), before anything is spoken."""
    lines = inputs.cast_lines.lines
    programme = inputs.programme_end or max((ln.cue.end for ln in lines), default=0)
    width = {"wav16": 2, "wav24": 3, "float": 4, "flac": 3}.get(mix.format, 4)
    channels = 2 if mix.background is not None or any(ln.pan for ln in lines) else 1
    tracks = len({ln.character for ln in lines}) + channels * (2 if mix.background is not None else 1)
    clips = 2 * 3 * sum(ln.cue.length for ln in lines)
    spill = 3 * 4 * sum(ln.cue.length for ln in lines)          # float32 takes and clips (audio.Spill)
    video = Path(inputs.video.path).stat().st_size if inputs.video is not None else 0
    return programme * width * tracks + clips + spill + video + 1024 ** 2


def take_bytes(lines: Collection) -> int:
    """About how much the take cache grows by when ``lines`` are spoken (a natural and a fitted
    take per line, float32, at most the master rate, a line at most 1.5x its cue)."""
    return 12 * sum(ln.cue.length for ln in lines) + 1024 ** 2


def check_disks(staging_dir: Path, needs: Mapping[str, tuple[Path, int]]) -> None:
    """:func:`fsio.check_space` for the outputs and the take cache's new takes, together when they
    share a file system: "no space left on MOUNT: N MB needed for ..." before anything is spoken."""
    out_need = needs["the outputs"][1]
    root, cache_need = needs.get("the take cache", (None, 0))
    if root is not None and cache_need and os.stat(root).st_dev == os.stat(staging_dir).st_dev:
        fsio.check_space(staging_dir, out_need + cache_need, "the outputs and the new takes of the take cache")
        return
    fsio.check_space(staging_dir, out_need)
    if root is not None and cache_need:
        fsio.check_space(root, cache_need, "the new takes of the take cache")


def full_disk(exc: BaseException, needs: Mapping[str, tuple[Path, int]]) -> SystemFault | None:
    """A full disk met mid-run (after :func:`fsio.check_space` passed: something else filled it)
    as one message with the figure: "no space left on MOUNT: N MB needed for the outputs in OUT,
    M MB free; ...". ``needs``: what the run writes where, about how much. ``None`` for any other
    exception."""
    path = fsio.full_disk_path(exc)
    if path is False:
        return None
    then = "the previous outputs are unchanged; free some space and run again"
    where = Path(os.path.abspath(path)) if path is not None else None
    for what in ("the take cache", "the outputs"):          # the cache may sit inside the output folder
        if what not in needs:
            continue
        folder, needed = needs[what]
        root = Path(os.path.abspath(folder))
        if where is None and what == "the outputs" or where is not None and (where == root or root in where.parents):
            return fsio.space_fault(folder, max(needed, 1024 ** 2), what, then)
    mount = fsio.mount_point(where.parent) if where is not None else None
    return SystemFault(f"no space left on {mount or 'the device'}" + (f" writing {where}" if where else "") +
                       f"; {then}")


def programme_notes(inputs: Inputs, mix: MixOptions) -> list[str]:
    """A warning when the programme is far longer than its dialogue (a stray cue hours after the
    rest, and no video or timeline to bound it): every stem and the mix are as long as it."""
    lines = inputs.cast_lines.lines
    if inputs.programme_end is not None or not lines:
        return []
    last = max(lines, key=lambda ln: ln.cue.end).cue
    speech = sum(ln.cue.length for ln in lines)
    if last.end < LONG_PROGRAMME_S * SAMPLE_RATE or speech >= SPARSE * last.end:
        return []
    before = max((ln.cue.end for ln in lines if ln.cue is not last), default=0)
    return [f"{last.file}:{last.line}: start: the programme runs to {timecode(last.end)} because of this cue "
            f"({timecode(max(0, last.start - before))} after the line before it) while the dialogue lasts "
            f"{timecode(speech)}; every stem and the mix will be that long (about "
            f"{output_bytes(inputs, mix) // 1024 ** 2} MB): check the cue's time, or give --video"]


def open_cache(cache: str | Path | bool | None, out: str | Path, limit_bytes: int | None = None) -> TakeCache | None:
    """``None``: the project's own cache in ``<out>/.indextts-dub-cache``; a path: that folder; ``False``: none.
    Nothing is made or checked here (see :meth:`TakeCache.open` and :meth:`TakeCache.check`)."""
    if cache is False:
        return None
    own = cache in (None, True)
    root = Path(out) / CACHE_DIRNAME if own else Path(cache)
    return TakeCache(root, limit_bytes or DEFAULT_CACHE_LIMIT, field="--output" if own else "--cache")


def natural_takes(inputs: Inputs, synth: Synthesizer, progress: Progress | None = None,
                  only: Collection[int] | None = None) -> dict[int, Take]:
    """Every line at the engine's natural reading (``Line.index`` -> take), or the lines whose
    index is in ``only`` (a service's share of the episode), grouped by voice
    (:meth:`.Synthesizer.naturals`)."""
    lines = [ln for ln in inputs.cast_lines.lines if only is None or ln.index in only]
    return synth.naturals(lines, (lambda done, total: progress("speaking", done, total)) if progress else None)


def plan_options(inputs: Inputs, options: DubOptions) -> PlanOptions:
    """The run's plan options: bounds and fill from the command line or the casting file's ``fit``."""
    given = options.plan_options
    popts = replace(given or PlanOptions(), bounds=inputs.bounds, fill=inputs.fill or (given.fill if given else False),
                    retime=options.retime_video)
    cast = inputs.cast_file
    if options.speed_bounds is not None:
        bounds_from = "--speed-max"
    elif cast.speed_bounds is not None:
        bounds_from = f"{cast.file}:{cast.lines.get('fit.speed_max', cast.lines.get('fit'))}: fit.speed_max"
    else:
        bounds_from = "the default"
    popts.check(bounds_from)
    return popts


def make_plan(inputs: Inputs, natural: Mapping[int, int], options: DubOptions) -> Plan:
    """The plan from the natural speech lengths (``Line.index`` -> samples)."""
    planner = plan_per_line if options.planner == "per-line" else plan
    return planner(inputs.cast_lines.lines, natural, inputs.programme_end, plan_options(inputs, options))


def fitted_clips(inputs: Inputs, the_plan: Plan, synth: Synthesizer, naturals: Mapping[int, Take],
                 progress: Progress | None = None, only: Collection[int] | None = None,
                 spill: audio.Spill | None = None) -> list[Clip]:
    """Every line's take at its planned speed, fitted to its planned length (in line order), or
    those of the lines whose index is in ``only``; with a ``spill`` each clip's audio waits there
    (on disk) for delivery."""
    pairs = [(ln, e) for ln, e in zip(inputs.cast_lines.lines, the_plan.entries) if only is None or ln.index in only]
    todo = sum(1 for _, e in pairs if abs(e.speed - 1.0) > 1e-6)
    done = 0
    clips: list[Clip] = []
    for ln, entry in pairs:
        take = synth.at_target(ln, naturals[ln.index], entry.speed, entry.speech_samples, inputs.engine.speed_range)
        if abs(entry.speed - 1.0) > 1e-6:
            done += 1
            if progress:
                progress("fitting", done, todo)
        clip = fit(take, entry, ln, synth.cache)
        clips.append(replace(clip, stored=spill.put(clip.audio)) if spill is not None else clip)
    return clips


def programme_length(the_plan: Plan, clips: list[Clip]) -> int:
    """The programme in samples: the plan's (timeline or video), else up to the last line's end."""
    if the_plan.programme is not None:
        return the_plan.programme
    return max(max(c.end for c in clips), max(e.cue_end for e in the_plan.entries))


# ---------------------------------------------------------------- a run

def dub(subtitles: str | Path | None, cast: str | Path | None = None, video: str | Path | None = None,
        out: str | Path = "out", options: DubOptions | None = None, *, progress: Progress | None = None,
        **fields_) -> DubResult:
    """Dub a subtitle file (or a timeline's dialogue): speak every line with its character's voice,
    fit it to its slot, and write clips, stems, the mix, the timelines, the plan, the report and
    (with a video) the muxed video into ``out``. Raises :class:`DubError` for bad input, before
    writing anything. ``options`` (or its fields as keyword arguments): :class:`DubOptions`."""
    t_start = time.perf_counter()
    opts = _options(options, fields_)
    opts.check(video)
    staging = Staging(out, wait=opts.wait, owns=delivery.owns)
    stages: dict[str, float] = {}
    clock = [t_start]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        stages[stage] = now - clock[0]
        clock[0] = now

    needs: dict[str, tuple[Path, int]] = {}        # what the run writes where, about how much

    try:
        inp = read_inputs(subtitles, cast, video, opts)
        inp.cast_lines.warnings.extend(staging.notes)       # an older version's outputs adopted
        lap("read_inputs")
        if opts.qa:
            qa_ready()          # a missing qa extra stops the run before anything is spoken
        needs["the outputs"] = (Path(out), output_bytes(inp, opts.mix_options or MixOptions()))
        cache = open_cache(opts.cache, out, opts.cache_limit)
        if cache is not None:
            cache.open()                # a folder it cannot use is said now, before the engine loads
            inp.cast_lines.warnings.extend(cache.notes)      # an older version's cache migrated
        # every take and clip waits on the output's disk, not in memory: a film's would not fit
        spill = audio.Spill(staging.dir)
        synth = Synthesizer(inp.engine, inp.load_engine, cache, spill=spill)
        if cache is not None:
            unspoken = [ln for ln in inp.cast_lines.lines if not cache.has(synth.content(ln), 1.0)]
            needs["the take cache"] = (cache.root, take_bytes(unspoken) if unspoken else 0)
        check_disks(staging.dir, needs)     # and a disk too small for the outputs (and the new takes)
        naturals = natural_takes(inp, synth, progress)
        lap("natural_takes")
        the_plan = make_plan(inp, {k: t.samples for k, t in naturals.items()}, opts)
        lap("plan")
        clips = fitted_clips(inp, the_plan, synth, naturals, progress, spill=spill)
        lap("fitted_clips")
        if opts.qa:
            qa_cache = synth.cache.root if synth.cache else None
            clips = qa_check(clips, opts.qa_threshold, qa_cache, progress)
            if opts.qa == "retry":
                clips = qa_retry(clips, synth, inp.engine.speed_range, opts.qa_threshold, qa_cache)
            lap("qa")
        done = deliver_staged(staging, inp, opts, the_plan, clips, engine_work(synth), stages)
        done.facts.wall_seconds = time.perf_counter() - t_start
        placed = staging.commit()
        synth.remember_speeds()
        if synth.cache is not None:
            synth.cache.prune()
    except BaseException as exc:
        staging.abort()
        full = full_disk(exc, needs)
        if full is not None:
            raise full from exc
        raise
    summary = summary_text(clips, inp.cast_lines.skipped, done.warnings, done.facts)
    if inp.voice_notes:
        summary = "Voices:\n" + "\n".join(f"  {n}" for n in inp.voice_notes) + "\n" + summary
    return DubResult(Path(out), clips, the_plan, inp.cast_lines, done.facts, summary, done.warnings,
                     {p.name: p for p in placed})


def engine_work(synth: Synthesizer) -> delivery.EngineWork:
    """What ``synth``'s engine did, for the run's facts."""
    return delivery.EngineWork(synth.engine_seconds, synth.calls, synth.cache.damaged if synth.cache else 0,
                               tuple(synth.engine.notes) if synth.engine is not None else ())


def deliver_staged(staging: Staging, inp: Inputs, options: DubOptions, the_plan: Plan, clips: list[Clip],
                   work: delivery.EngineWork, stages: dict[str, float] | None = None) -> delivery.Delivered:
    """The last stage: the fitted clips delivered into ``staging`` (the caller commits it), at the
    previous run's dialogue gain when that still meets the target; ``stages``: the wall time of
    the stages before it, for the facts."""
    mix = _keep_previous_gain(options.mix_options or MixOptions(), staging.out / "plan.json")
    return delivery.deliver(staging, delivery.Delivery(
        clips, the_plan, inp.cast_lines, programme_length(the_plan, clips), inp.engine, work,
        mix, inp.name, inp.subtitles, inp.video, inp.source,
        options.timeline_options.fps if options.timeline_options else None, options.editor_copies, stages or {}))


def _keep_previous_gain(mix: MixOptions, previous_plan: Path) -> MixOptions:
    """Offer the previous run's dialogue gain to the mix (kept while the loudness stays within
    tolerance of the same target), so a re-run changes only the clips it re-rendered."""
    if mix.keep_gain_db is not None or mix.loudness is None:
        return mix
    previous = plan_json.read_previous_document(previous_plan).get("mix") or {}
    gain = previous.get("dialogue_gain_db_exact")
    if isinstance(gain, (int, float)) and previous.get("loudness_target_lufs") == mix.loudness:
        return replace(mix, keep_gain_db=float(gain))
    return mix


# ---------------------------------------------------------------- what a re-run would do

@dataclass(frozen=True)
class Decision:
    """What a re-run would do with one line, and why (``--dry-run``)."""

    index: int          # Line.index
    character: str
    text: str           # as shown
    action: str         # "reuse", "re-fit" or "synthesize"
    why: str
    source: str = ""    # file:line (Cue.source)
    language: str = ""
    speech: str = ""    # exactly what the engine is asked to say
    start: int = 0      # the line's slot (its cue), samples at 48 kHz
    end: int = 0


@dataclass
class DryRun:
    """What :func:`dry_run` found: a decision per line, the cues skipped and why, the warnings."""

    decisions: list[Decision]
    skipped: list            # lines.Skipped: the cue and the reason
    warnings: list[str]

    def as_dict(self) -> dict:
        """The document ``--dry-run --json`` prints (times in whole milliseconds)."""
        def ms(samples: int) -> int:
            return samples * 1000 // SAMPLE_RATE

        return {"lines": [{"index": d.index, "source": d.source, "character": d.character, "language": d.language,
                           "text": d.speech, "start_ms": ms(d.start), "end_ms": ms(d.end), "decision": d.action,
                           "why": d.why} for d in self.decisions],
                "skipped": [{"source": s.cue.source, "reason": s.reason} for s in self.skipped],
                "warnings": list(self.warnings)}


def _change(previous: dict | None, ln, content: str) -> str:
    if previous is None:
        return "new line"
    if previous.get("speech") != ln.speech_text:
        return f"text changed (was {previous.get('speech')!r})"
    if previous.get("voice") != ln.voice:
        return f"voice changed (was {previous.get('voice')})"
    if previous.get("take") != content:
        return "engine or rendering changed"
    return ""


def dry_run(subtitles: str | Path | None, cast: str | Path | None = None, video: str | Path | None = None,
            out: str | Path = "out", options: DubOptions | None = None, **fields_) -> DryRun:
    """What :func:`dub` would re-synthesize, re-fit or reuse, judged from the take cache and the
    previous run's ``plan.json``; writes nothing and never loads the engine."""
    opts = _options(options, fields_)
    opts.check(video)
    inp = read_inputs(subtitles, cast, video, opts)
    lines = inp.cast_lines.lines
    cache = open_cache(opts.cache, out)
    if cache is not None:
        cache.check()                   # what dub would refuse
    synth = Synthesizer(inp.engine, inp.load_engine, cache, offline=True)
    previous = plan_json.read_previous(Path(out) / "plan.json")
    naturals: dict[int, int] = {}
    missing: set[int] = set()
    for ln in lines:
        try:
            naturals[ln.index] = synth.natural(ln).samples
        except NotCached:
            missing.add(ln.index)
            prev = previous.get((ln.cue.file, ln.cue.line)) or {}
            naturals[ln.index] = prev.get("natural_samples") or ln.cue.length   # an estimate, to plan the rest
    the_plan = make_plan(inp, naturals, opts)
    decisions = []
    for ln, entry in zip(lines, the_plan.entries):
        prev = previous.get((ln.cue.file, ln.cue.line))
        change = _change(prev, ln, synth.content(ln))

        def decide(action: str, why: str) -> None:
            decisions.append(Decision(ln.index, ln.character, ln.text, action, why, ln.cue.source, ln.language,
                                      ln.speech_text, ln.cue.start, ln.cue.end))

        if ln.index in missing:
            decide("synthesize", change or "no stored take for this content")
            continue
        speed_note = ""
        if abs(entry.speed - 1.0) > 1e-6:
            try:
                take = synth.at_target(ln, synth.natural(ln), entry.speed, entry.speech_samples, inp.engine.speed_range)
                speed_note = f" (stored take at speed {take.speed:.3f})"
            except NotCached:
                decide("synthesize", f"needs {entry.speed:.3f}x and no stored take is within tolerance")
                continue
        if change:
            decide("re-fit", f"{change}; its take is stored{speed_note}")
        elif prev.get("clip", {}).get("start") == entry.start and prev.get("slot", {}).get("length") == ln.cue.length:
            decide("reuse", "unchanged" + speed_note)
        else:
            decide("re-fit", f"timing changed (slot {timecode(prev.get('slot', {}).get('start', 0))} -> "
                             f"{timecode(ln.cue.start)}){speed_note}")
    warnings = [*inp.voice_notes, *inp.cast_lines.warnings,
                *(f"line {e.index} ({ln.cue.source}): {w}" for ln, e in zip(lines, the_plan.entries) for w in e.warnings)]
    folder = Path(out) if Path(out).exists() else next((p for p in Path(out).absolute().parents if p.exists()), Path("."))
    try:
        fsio.check_space(folder, output_bytes(inp, opts.mix_options or MixOptions()))
    except SystemFault as exc:
        warnings.append(f"the run would stop: {exc}")
    ours, others = fsio.unlisted_outputs(Path(out), delivery.owns)
    if ours and others:
        warnings.append(f"the run would stop: {out}: --output: {fsio.adoption_problem(ours, others)}")
    elif ours:
        warnings.append(fsio.adoption_note(Path(out), ours).replace(": adopted as", ": would be adopted as", 1))
    return DryRun(decisions, list(inp.cast_lines.skipped), warnings)
