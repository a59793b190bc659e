"""``indextts-dub dub``: its flags, the progress bar, and the dry run's table."""
from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from ..errors import DubError

ENGINE_OPTION = "--engine-option"


def _progress_bar(quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    labels = {"speaking": "Speaking lines", "fitting": "Fitting speeds"}

    def update(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[phase] = tqdm(total=total, desc=labels.get(phase, phase), unit="line",
                                     file=sys.stderr, dynamic_ncols=True, leave=True)
        bar.update(done - bar.n)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return update, close


def parse_size(text: str) -> int:
    """``2G``, ``500M``, ``1.5GB``, ``123456`` -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G)")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def parse_engine_options(items: list[str] | None) -> dict[str, Any]:
    """``["device=cuda:1", "precision=fp16", "generation={temperature: 0.7}"]`` -> options;
    values are read as YAML scalars (true, 12, 0.5, [..], {..}), else kept as text."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DubError.at(None, None, ENGINE_OPTION, f"{item!r}: write KEY=VALUE, e.g. --engine-option device=cuda:1")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        out[key] = parsed if isinstance(parsed, (bool, int, float, list, dict)) else value.strip()
    return out




def _dub_kwargs(args: argparse.Namespace) -> dict:
    """What both a run and a dry run take from the command line."""
    from ..plan import PlanOptions

    cache = False if args.no_cache else args.cache
    bounds = None if args.speed_min is None and args.speed_max is None else (
        args.speed_min if args.speed_min is not None else 0.75, args.speed_max if args.speed_max is not None else 1.25)
    popts = PlanOptions(overflow=args.overflow, compress_cap=args.compress_cap, max_shift_ms=args.max_shift_ms,
                        lead_in_ms=args.lead_in_ms, min_gap_ms=args.min_gap_ms,
                        allow_cross_overlap=args.allow_cross_overlap)
    return dict(cast=args.cast, video=args.video, out=args.output, engine=args.engine, voice=args.voice,
                encoding=args.encoding, speak=args.speak, fill=args.fill, strict=args.strict,
                skip_unspeakable=args.skip_unspeakable,
                speed_bounds=bounds, cache=cache, library=args.library, plan_options=popts,
                planner=args.planner, retime_video=args.retime_video, qa=args.qa, qa_threshold=args.qa_threshold,
                engine_options=parse_engine_options(args.engine_option) or None)


def _cmd_dub(args: argparse.Namespace) -> int:
    from . import timeline

    subtitles, timeline_file = timeline.inputs(args)
    kwargs = dict(_dub_kwargs(args), timeline=timeline_file, timeline_options=timeline.options(args),
                  editor_copies=timeline.editor_copies(args))
    if args.json and not args.dry_run:
        raise DubError.at(None, None, "--json", "goes with --dry-run (a run's own record is plan.json)")
    if args.dry_run:
        from ..pipeline import dry_run

        result = dry_run(subtitles, **kwargs)
        if args.json:                  # one JSON document on stdout; everything else went to stderr
            import json

            json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
            return 0
        decisions = result.decisions
        for d in decisions:
            print(f"{d.index:4d}  {d.action:10s} {d.character[:14]:14s} {d.text[:40]:40s}  {d.why}")
        counts = {a: sum(d.action == a for d in decisions) for a in ("synthesize", "re-fit", "reuse")}
        print(f"would synthesize {counts['synthesize']}, re-fit {counts['re-fit']}, reuse {counts['reuse']} "
              f"of {len(decisions)} lines")
        for s in result.skipped:
            print(f"skipped {s.cue.source}: {s.reason}", file=sys.stderr)
        for w in result.warnings:
            print(f"warning: {w}", file=sys.stderr)
        return 0
    from ..deliver.mix import MixOptions
    from ..pipeline import dub

    loudness = None if str(args.loudness).lower() == "off" else _number(args.loudness, "--loudness")
    mopts = MixOptions(loudness=loudness, true_peak=args.true_peak, background=args.background,
                       duck_db=args.duck_db, format=args.format)
    progress, close = _progress_bar(args.quiet)
    try:
        result = dub(subtitles, **kwargs, cache_limit=args.cache_size, wait=args.wait, mix_options=mopts,
                     progress=progress)
    finally:
        close()
    print(result.summary)
    return 0


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DubError.at(None, None, flag, f"{text!r} is not a number") from None


def add_dub_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("dub", help="dub a subtitle file (SRT, ASS/SSA, WebVTT) or an editor timeline")
    d.add_argument("subtitles", metavar="INPUT", help="subtitle file, or an editor timeline (.otio, FCP 7 .xml, ...)")
    d.add_argument("--cast", help="casting file (YAML): character -> voice")
    d.add_argument("--video", help="video to mux the dub into (its stream is copied, not re-encoded)")
    d.add_argument("-o", "--output", default="out", help="output folder (default: out)")
    d.add_argument("--engine", help="engine name (default: the casting file's, else kokoro)")
    d.add_argument("--engine-option", action="append", metavar="KEY=VALUE",
                   help="an engine option (overrides the cast's engine_options), e.g. checkpoints=/models/IndexTTS-2; "
                        "repeatable")
    d.add_argument("--voice", help="voice for every speaker when there is no casting file")
    d.add_argument("--encoding", help="subtitle text encoding (default: detected)")
    d.add_argument("--speak", choices=("zh", "en"),
                   help="bilingual Chinese/English subtitles: the language to speak (default: the primary one, "
                        "the language of the top line; the summary says which was chosen)")
    d.add_argument("--fill", action="store_true", help="slow short lines toward their slot (within bounds)")
    d.add_argument("--strict", action="store_true",
                   help="refuse one character's cues overlapping (default: a warning; the earlier line is fitted "
                        "to end first)")
    d.add_argument("--skip-unspeakable", action="store_true",
                   help="skip (and list) lines in a language the engine cannot speak (default: refuse them, "
                        "each named)")
    d.add_argument("--speed-min", type=float,
                   help="slowest speed as heard, natural length / final length (default: the cast's fit, else 0.75; "
                        "only with --fill)")
    d.add_argument("--speed-max", type=float,
                   help="fastest speed as heard (default: the cast's fit, else 1.25); past it, --overflow decides")
    d.add_argument("--library", help="voice library file (default: the cast's voice_library, else the user's)")
    d.add_argument("--cache", help="take cache folder (default: OUTPUT/.indextts-dub-cache)")
    d.add_argument("--no-cache", action="store_true", help="keep no takes between runs")
    d.add_argument("--cache-size", type=parse_size, default=None,
                   help="evict least recently used takes beyond this size (default 2G)")
    d.add_argument("--dry-run", action="store_true",
                   help="print which lines would be synthesized, re-fitted or reused, and why; write nothing")
    d.add_argument("--json", action="store_true",
                   help="with --dry-run: print one JSON document (lines, skipped cues, warnings) on stdout")
    d.add_argument("--wait", action="store_true", help="if another run is writing OUTPUT, wait for it")
    t = d.add_argument_group("timing plan (speeds are the tempo a listener hears: natural length / final length)")
    t.add_argument("--planner", choices=("episode", "per-line"), default="episode",
                   help="episode: one plan over every line (default); per-line: each line on its own (baseline)")
    t.add_argument("--overflow", choices=("compress", "shift", "flag"), default="compress",
                   help="when the fastest speed cannot fit a line: compress past it up to --compress-cap "
                        "(default), shift the following lines later, or flag the overrun")
    t.add_argument("--compress-cap", type=float, default=None,
                   help="hard cap for --overflow compress (default 1.5, or the fastest speed bound when faster)")
    t.add_argument("--max-shift-ms", type=int, default=1000,
                   help="most a line may be pushed after its cue (default 1000)")
    t.add_argument("--lead-in-ms", type=int, default=150, help="most a line may start before its cue (default 150)")
    t.add_argument("--min-gap-ms", type=int, default=80,
                   help="silence kept before the same character's next line (default 80)")
    t.add_argument("--allow-cross-overlap", action="store_true",
                   help="let a line run into another character's line (default: only where the cues overlap)")
    t.add_argument("--retime-video", action="store_true",
                   help="slow the picture where a line cannot fit (renders the retimed video; needs --video)")
    m = d.add_argument_group("delivery mix")
    m.add_argument("--loudness", default="-23",
                   help="dialogue loudness target in LUFS, EBU R128 (default -23; -16 for web; 'off')")
    m.add_argument("--true-peak", type=float, default=-1.0, help="true-peak ceiling in dBTP (default -1)")
    m.add_argument("--background", metavar="original|PATH",
                   help="mix a bed under the dub: the video's own audio ('original') or a music-and-effects file")
    m.add_argument("--duck-db", type=float, default=None,
                   help="how far the background dips while dialogue plays (default 12 for original, 0 for a file)")
    m.add_argument("--format", choices=("wav16", "wav24", "float", "flac"), default="wav24",
                   help="stems and mix: WAV 16-bit, 24-bit (default), 32-bit float, or FLAC")
    d.add_argument("--qa", nargs="?", const="check", choices=("check", "retry"),
                   help="hear every fitted clip with Whisper and score it against its line; 'retry' also "
                        "renders failed lines again and keeps the best take (needs pip install 'indextts-dub[qa]')")
    d.add_argument("--qa-threshold", type=float, default=0.25,
                   help="error rate (WER for English, pinyin syllables for Mandarin) past which a line fails QA (default 0.25)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from .timeline import add_arguments as add_timeline_arguments

    add_timeline_arguments(d)
    d.set_defaults(func=_cmd_dub)
