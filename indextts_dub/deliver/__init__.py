"""Stage 6, delivery: the fitted clips become files, each kind by one small function.

:func:`deliver` runs them in order over a :class:`Delivery` (plain data: the clips, the plan,
what casting said, the run's facts):

============================  ==========================================================
:func:`dialogue`              the clips placed per character (:class:`.mix.Dialogue`)
:func:`.mix.mix`              loudness, true peak, background (:mod:`.mix`), measured block by block
:func:`write_clips`           ``clips/NNNN_Name.wav``, each at the mix's dialogue gain
:func:`write_mix`             ``stems/``, ``background``, ``dub.wav`` in the chosen format, block by block
                              (or :func:`carried_mix`: the previous run's, when nothing they are made of changed)
:func:`write_video`           the retimed picture (:mod:`.retime`), ``retime.json``, ``dubbed.mp4``
:func:`.timelines.write_all`  ``timeline.otio`` and ``editor/`` (:mod:`.timelines`)
:func:`write_records`         ``plan.json`` (:mod:`.plan_json`), ``report.html`` and
                              ``timeline.png`` (:mod:`.report`)
============================  ==========================================================

Everything is written into a :class:`~indextts_dub.fsio.Staging` folder; the caller commits it.
:func:`owns` says which names a run writes (what a folder an older version wrote, without a
manifest, may hold to be adopted).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import audio, fsio, media
from ..clips import Clip
from ..cues import TimelineIn
from ..engines import EngineInfo
from ..fsio import Staging
from ..lines import CastLines
from ..plan import Plan
from ..timebase import SAMPLE_RATE
from . import mix as mixing
from . import plan_json, report
from .plan_json import RunFacts
from .timelines import write_all as write_timelines


@dataclass(frozen=True)
class EngineWork:
    """What the engine did this run, for the report."""

    seconds: float = 0.0            # time inside synthesize()
    calls: int = 0
    cache_damaged: int = 0          # take-cache entries found damaged and spoken again
    notes: tuple[str, ...] = ()     # the loaded engine's notes


@dataclass(frozen=True)
class Delivery:
    """Everything delivery needs, as plain data."""

    clips: list[Clip]
    plan: Plan
    cast_lines: CastLines
    programme: int                          # samples: the timeline's, the video's, or the last line's end
    engine: EngineInfo
    work: EngineWork
    mix: mixing.MixOptions
    name: str = "dub"                       # the timeline's name
    subtitles: str | None = None            # the subtitle file, for the report's title and the metadata
    video: media.VideoInfo | None = None
    source: TimelineIn | None = None        # the editor timeline dubbed against
    fps: Fraction | None = None             # the frame rate for editor copies of a subtitle-only run
    editor_copies: tuple[str, ...] | None = None   # None: every format
    stage_seconds: dict[str, float] = field(default_factory=dict)   # wall time of the stages before delivery


@dataclass
class Delivered:
    facts: RunFacts
    warnings: list[str] = field(default_factory=list)     # casting's and delivery's


def _owned_pattern() -> re.Pattern:
    from .timelines.editors import FORMATS as EDITOR_FORMATS

    audio_ext = "|".join(sorted({ext[1:] for _, _, ext in mixing.FORMATS.values()}))
    editors = "|".join(re.escape(f.filename) for f in EDITOR_FORMATS.values())
    return re.compile(rf"clips/\d{{4}}_[^/]+\.wav|stems/[^/]+\.({audio_ext})|(dub|background)\.({audio_ext})"
                      rf"|dubbed\.(mp4|mkv)|plan\.json|report\.html|timeline\.(otio|png)|retime\.json"
                      rf"|editor/({editors})|editor/media/[^/]+\.wav")


def owns(rel: str) -> bool:
    """Whether ``rel`` (a path relative to the output folder, with ``/``) is named as one of the
    files a run writes: ``clips/NNNN_Name.wav``, ``stems/Name.wav|flac``, ``dub`` and
    ``background`` in each mix format, ``dubbed.mp4|mkv``, ``plan.json``, ``report.html``,
    ``timeline.otio|png``, ``retime.json``, the editor copies and ``editor/media/*.wav``."""
    global _OWNED
    if _OWNED is None:
        _OWNED = _owned_pattern()
    return _OWNED.fullmatch(rel) is not None


_OWNED: re.Pattern | None = None


def safe_name(name: str) -> str:
    """A file-name-safe form of a character name (letters of any script are kept)."""
    s = unicodedata.normalize("NFC", name).strip()
    s = re.sub(r"[^\w\-]+", "_", s, flags=re.UNICODE).strip("._")
    return s or "character"


def file_names(characters: list[str]) -> dict[str, str]:
    """A distinct file name per character (case-insensitively distinct)."""
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


def dialogue(clips: list[Clip], characters: list[str], programme: int,
             pans: dict[str, float] | None = None) -> mixing.Dialogue:
    """Each character's clips placed on the master clock, ``programme`` samples long (the stems,
    never made as whole arrays: :mod:`.mix` walks them block by block)."""
    placed: dict[str, list[tuple[int, np.ndarray | audio.Spilled]]] = {ch: [] for ch in characters}
    for c in clips:
        placed[c.line.character].append((c.start, c.stored))
    return mixing.Dialogue(programme, placed, pans)


def write_clips(staging: Staging, clips: list[Clip], gain_db: float, names: dict[str, str]) -> dict[int, str]:
    """``clips/NNNN_Name.wav`` at the dialogue gain; ``Line.index`` -> the path relative to the output."""
    gain = np.float64(10 ** (gain_db / 20))      # the clip in float64 times the gain, whatever type it came as
    rel: dict[int, str] = {}
    for c in clips:
        rel[c.line.index] = f"clips/{c.line.index:04d}_{names[c.line.character]}.wav"
        audio.write_wav(staging.path(rel[c.line.index]), c.audio * gain, SAMPLE_RATE)
    return rel


def write_mix(staging: Staging, placed: mixing.Dialogue, mixed: mixing.MixResult, options: mixing.MixOptions,
              names: dict[str, str], background: mixing.Bed | None = None) -> tuple[dict[str, Path], dict]:
    """Stems, the ducked background and the mix in the chosen format, written block by block;
    the files and the mix's figures."""
    ext = options.extension
    targets = mixing.Targets({ch: staging.path(f"stems/{names[ch]}{ext}") for ch in placed.characters},
                             staging.path(f"dub{ext}"),
                             staging.path(f"background{ext}") if background is not None else None)
    figures = mixing.render(placed, mixed, options, targets, background)
    out = {"stems": staging.final("stems/"), "mix": staging.final(f"dub{ext}")}
    if background is not None:
        out["background"] = staging.final(f"background{ext}")
    return out, figures


MIX_RECORD = ".indextts-dub-mix.json"   # what the last run's mix files were made of (:func:`carried_mix`)
MIX_RECORD_VERSION = 1


def _file_id(path: str | Path | None) -> list | None:
    """A file as far as a carried-over output depends on it: its path, size and modification time."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return [str(path), None, None]
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def _mixer_id() -> str:
    """The code that makes the mix files: the mixing modules' source and the libraries they use."""
    global _MIXER
    if _MIXER is None:
        from importlib.metadata import PackageNotFoundError, version

        h = hashlib.sha256()
        for source in (__file__, mixing.__file__, audio.__file__, media.__file__):
            h.update(Path(source).read_bytes())
        for dist in ("numpy", "scipy", "pyloudnorm", "soxr", "soundfile", "imageio-ffmpeg"):
            try:
                h.update(f"{dist}={version(dist)};".encode())
            except PackageNotFoundError:
                h.update(f"{dist}=;".encode())
        _MIXER = h.hexdigest()
    return _MIXER


_MIXER: str | None = None


def mix_digest(d: Delivery, characters: list[str], names: dict[str, str], pans: dict[str, float]) -> str:
    """What the stems, the background, the mix and the muxed video are made of: every clip's
    audio and place, the programme, the characters with their file names and pans, the mix
    options, the picture and the bed (by path, size and time), the code that mixes
    (:func:`_mixer_id`)."""
    h = hashlib.sha256()
    h.update(json.dumps({
        "record": MIX_RECORD_VERSION, "mixer": _mixer_id(), "programme": d.programme,
        "characters": [[ch, names[ch]] for ch in characters], "pans": sorted(pans.items()),
        "mix": dataclasses.asdict(replace(d.mix, keep_gain_db=None)), "video": _file_id(d.video.path) if d.video is not None else None,
        "background": _file_id(d.mix.background) if d.mix.background not in (None, "original") else None,
        "languages": sorted(ln.language for ln in d.cast_lines.lines),
    }, sort_keys=True, default=str).encode())
    for c in d.clips:
        h.update(f"|{c.line.character}|{c.start}|{c.length}|".encode())
        h.update(np.ascontiguousarray(c.audio, np.float32).tobytes())
    return h.hexdigest()


def carried_mix(staging: Staging, digest: str, keep_gain_db: float | None = None) -> dict | None:
    """The previous run's mix figures when its mix files (stems, background, mix, muxed video)
    were made of exactly what this run's would be (``digest``, :func:`mix_digest`, kept in
    :data:`MIX_RECORD`), at the gain this run would keep (``keep_gain_db``: the previous run's,
    see ``MixOptions.keep_gain_db``; the same clips measure the same, so that gain is kept
    again), and are still in place as that run left them (size and modification time): those
    files are linked (or copied) into ``staging`` unchanged instead of being mixed, written and
    muxed again (the record stays true of them: a link keeps the size and time). None otherwise."""
    try:
        record = json.loads(staging.final(MIX_RECORD).read_text(encoding="utf-8"))
        files, figures = record["files"], record["figures"]
        if record.get("version") != MIX_RECORD_VERSION or record.get("digest") != digest or not files:
            return None
        gain = figures.get("dialogue_gain_db_exact")
        if not isinstance(gain, (int, float)) or (keep_gain_db is not None and gain != keep_gain_db):
            return None
        for rel, (size, mtime) in files.items():
            st = os.stat(staging.final(rel))
            if st.st_size != size or st.st_mtime_ns != mtime or not isinstance(figures, dict):
                return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    for rel in files:
        target = staging.path(rel)
        try:
            os.link(staging.final(rel), target)
        except OSError:
            shutil.copy2(staging.final(rel), target)
    return figures


def write_mix_record(staging: Staging, digest: str, rels: list[str], figures: dict) -> None:
    """:data:`MIX_RECORD` for the staged mix files ``rels`` (see :func:`carried_mix`), written
    into the output folder itself (hidden, like the take cache; no output): the commit keeps the
    files' sizes and times, so after it the record describes them, and if the commit does not
    happen it describes nothing in place and is never followed."""
    files = {}
    for rel in rels:
        st = os.stat(staging.path(rel))
        files[rel] = [st.st_size, st.st_mtime_ns]
    fsio.write_text(staging.final(MIX_RECORD), json.dumps({"version": MIX_RECORD_VERSION, "digest": digest,
                                                          "files": files, "figures": figures},
                                                         ensure_ascii=False))    # the figures' order kept


def retimed_picture(staging: Staging, video: media.VideoInfo | None, plan: Plan) -> media.VideoInfo | None:
    """The picture the dub plays against: the video, or with an applied retime the retimed
    render (written into staging under a temporary name, moved by :func:`write_video`)."""
    if not plan.retime_applied or video is None:
        return video
    from . import retime

    suffix = Path(video.path).suffix.lower()
    tmp = staging.path(".retimed" + suffix if suffix in media.MP4_FAMILY else ".retimed.mkv")
    retime.render(video, plan.retime, tmp)
    return media.probe(tmp)


def write_video(staging: Staging, d: Delivery, picture: media.VideoInfo | None,
                mix_file: Path) -> tuple[dict[str, Path], media.VideoInfo | None]:
    """``retime.json`` when the plan has edits; the picture with the dub muxed in. Returns the
    files and the picture as the timelines should reference it (its final path)."""
    out: dict[str, Path] = {}
    if d.plan.retime:
        from . import retime

        retime.write_edit_list(d.plan, staging.path("retime.json"), d.video.fps if d.video else None)
        out["retime"] = staging.final("retime.json")
    if picture is None:
        return out, picture
    video_name = media.output_name(d.video)
    languages = [ln.language for ln in d.cast_lines.lines]
    main_language = max(("zh", "en"), key=lambda lang: sum(x == lang for x in languages))
    media.mux(picture, mix_file, staging.path(video_name), language={"zh": "chi", "en": "eng"}[main_language])
    out["video"] = staging.final(video_name)
    if picture.path != d.video.path:                      # the retimed render: the muxed file replaces it
        Path(picture.path).unlink()
        picture = replace(picture, path=str(staging.final(video_name)))
    return out, picture


def write_records(staging: Staging, d: Delivery, facts: RunFacts, warnings: list[str],
                  media_files: dict[int, str]) -> None:
    """``plan.json``, then ``report.html`` and ``timeline.png`` from the same document."""
    doc = plan_json.plan_document(d.clips, d.plan, d.cast_lines.skipped, warnings, facts,
                                  voices=d.cast_lines.voices, media=media_files)
    plan_json.write_json(doc, staging.path("plan.json"))
    report.write(staging.path("report.html"), staging.path("timeline.png"),
                 Path(d.subtitles).name if d.subtitles is not None else d.name, doc)


def deliver(staging: Staging, d: Delivery) -> Delivered:
    """Write every output of a run into ``staging`` (see the module docstring)."""
    t_start = time.perf_counter()
    lines = d.cast_lines.lines
    characters = list(dict.fromkeys(ln.character for ln in lines))
    names = file_names(characters)
    picture = retimed_picture(staging, d.video, d.plan)
    background = None
    pans = {ln.character: ln.pan for ln in lines if ln.pan}
    ext = d.mix.extension
    # the mix's files and the muxed video: carried over from the previous run when nothing they
    # are made of changed (a re-run that changed nothing, or only what they do not depend on)
    digest = mix_digest(d, characters, names, pans) if not d.plan.retime_applied else None
    figures = carried_mix(staging, digest, d.mix.keep_gain_db) if digest is not None else None
    if figures is not None:
        gain_db = float(figures["dialogue_gain_db_exact"])
        rel_media = write_clips(staging, d.clips, gain_db, names)
        mix_files = {"stems": staging.final("stems/"), "mix": staging.final(f"dub{ext}")}
        if (staging.dir / f"background{ext}").exists():
            mix_files["background"] = staging.final(f"background{ext}")
        video_files: dict[str, Path] = {}
        if d.plan.retime:
            from . import retime

            retime.write_edit_list(d.plan, staging.path("retime.json"), d.video.fps if d.video else None)
            video_files["retime"] = staging.final("retime.json")
        if picture is not None:
            video_files["video"] = staging.final(media.output_name(d.video))
    else:
        if d.mix.background is not None:
            background = mixing.Bed.from_options(d.mix.background, picture.path if picture is not None else None)
        speech = [(c.start, c.start + c.speech_samples) for c in d.clips]
        placed = dialogue(d.clips, characters, d.programme, pans)
        mixed = mixing.mix(placed, speech, d.mix, background)
        gain_db = mixed.dialogue_gain_db
        rel_media = write_clips(staging, d.clips, gain_db, names)
        mix_files, figures = write_mix(staging, placed, mixed, d.mix, names, background)
        video_files, picture = write_video(staging, d, picture, staging.path(mix_files["mix"].name))
        if digest is not None:
            made = [f"stems/{names[ch]}{ext}" for ch in characters] + [f"dub{ext}"]
            made += [f"background{ext}"] if "background" in mix_files else []
            made += [media.output_name(d.video)] if "video" in video_files else []
            write_mix_record(staging, digest, made, figures)
    facts = RunFacts(engine=d.engine.name, engine_version=d.engine.version, programme=d.programme,
                     gain_db=gain_db, engine_seconds=d.work.seconds, synthesis_calls=d.work.calls,
                     mix=figures, engine_model=d.engine.model_id, cache_damaged=d.work.cache_damaged,
                     engine_notes=list(d.work.notes))
    outputs = {"clips": staging.final("clips/"), "stems": mix_files["stems"], "mix": mix_files["mix"],
               "plan": staging.final("plan.json"), "report": staging.final("report.html"),
               "picture": staging.final("timeline.png")}
    if "background" in mix_files:
        outputs["background"] = mix_files["background"]
    outputs.update(video_files)
    timelines = write_timelines(staging, d.clips, characters, {i: staging.final(r) for i, r in rel_media.items()},
                                d.programme, d.name, picture,
                                {"engine": d.engine.name, "engine_version": d.engine.version,
                                 "mix_gain_db": round(gain_db, 2), "subtitles": d.subtitles,
                                 "video_retimed": d.plan.retime_applied},
                                d.source, d.fps, d.editor_copies)
    warnings = [*d.cast_lines.warnings, *timelines.notes]
    outputs.update(timelines.files)
    facts.outputs = {k: str(v) for k, v in outputs.items()}
    facts.stage_seconds = {**d.stage_seconds, "deliver": time.perf_counter() - t_start}
    write_records(staging, d, facts, warnings, rel_media)
    return Delivered(facts, warnings)
