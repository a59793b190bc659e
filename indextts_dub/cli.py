"""``indextts-dub``: the command line.

Exit status: 0 done; 2 bad input (the message names file, line and field); 3 an
engine could not load or run; 130 interrupted. Nothing is left half-written on failure.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import DubError


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


def _cmd_dub(args: argparse.Namespace) -> int:
    from . import timeline_cli
    from .pipeline import dub

    subtitles, timeline = timeline_cli.inputs(args)
    topts = timeline_cli.options(args)
    progress, close = _progress_bar(args.quiet)
    try:
        result = dub(subtitles, timeline=timeline, timeline_options=topts, cast=args.cast, video=args.video, out=args.output, engine=args.engine,
                     voice=args.voice, encoding=args.encoding, fill=args.fill,
                     allow_overlap=args.allow_overlap, speed_bounds=(args.speed_min, args.speed_max),
                     progress=progress)
    finally:
        close()
    print(result.summary)
    return 0


def _cmd_engines(args: argparse.Namespace) -> int:
    from . import engines

    for name in engines.available():
        try:
            info = engines.describe(name)
        except Exception as exc:  # a broken third-party plugin must not hide the others
            print(f"{name}: cannot describe ({exc})")
            continue
        caps = [c for c, ok in (("speed", info.native_speed), ("exact length", info.exact_length),
                                ("emotion", info.emotion), ("reference voices", info.reference_voice)) if ok]
        print(f"{name} ({info.version}, {info.sample_rate} Hz; languages {', '.join(info.languages)}; "
              f"{', '.join(caps) or 'no native controls'})")
        for v in info.voices:
            print(f"  {name}:{v.id:16s} {v.gender or '':7s} {v.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="indextts-dub", description="Subtitle-driven dubbing, every line sample-exact.")
    p.add_argument("--version", action="version", version=f"indextts-dub {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dub", help="dub a subtitle file (SRT, ASS/SSA, WebVTT) or an editor timeline")
    d.add_argument("subtitles", metavar="INPUT", help="subtitle file, or an editor timeline (.otio, FCP 7 .xml, ...)")
    d.add_argument("--cast", help="casting file (YAML): character -> voice")
    d.add_argument("--video", help="video to mux the dub into (its stream is copied, not re-encoded)")
    d.add_argument("-o", "--output", default="out", help="output folder (default: out)")
    d.add_argument("--engine", help="engine name (default: the casting file's, else kokoro)")
    d.add_argument("--voice", help="voice for every speaker when there is no casting file")
    d.add_argument("--encoding", help="subtitle text encoding (default: detected)")
    d.add_argument("--fill", action="store_true", help="slow short lines toward their slot (within bounds)")
    d.add_argument("--allow-overlap", action="store_true",
                   help="accept one character's cues overlapping (the earlier line is fitted to end first)")
    d.add_argument("--speed-min", type=float, default=0.75, help="slowest engine speed (default 0.75)")
    d.add_argument("--speed-max", type=float, default=1.25, help="fastest engine speed (default 1.25)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from .timeline_cli import add_arguments as add_timeline_arguments

    add_timeline_arguments(d)
    d.set_defaults(func=_cmd_dub)

    e = sub.add_parser("engines", help="list installed engines and their voices")
    e.set_defaults(func=_cmd_engines)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DubError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:
        from .engines import EngineError

        if isinstance(exc, EngineError):
            print(f"error: engine: {exc}", file=sys.stderr)
            return 3
        raise
