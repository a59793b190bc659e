"""``indextts-dub``: the command line.

Exit status: 0 done; 2 bad input (the message names file, line and field); 3 an
engine could not load or run, or the machine refused (a full disk, a failed rename), or a fault
of ours (one line naming it and where to report it; the traceback with ``--debug``); 130
interrupted. Nothing is left half-written on failure.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..errors import DubError, SystemFault
from .dub import add_dub_parser, parse_size


def _cmd_cache(args: argparse.Namespace) -> int:
    import time

    from ..pipeline import open_cache

    cache = open_cache(args.cache, args.output)
    if args.action == "info":
        info = cache.info()
        when = (lambda t: time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-")
        print(f"{info.root}: {info.files} takes of {info.lines} lines, {info.bytes / 1024 ** 2:.1f} MiB; "
              f"least recently used {when(info.oldest)}, most recently {when(info.newest)}")
    elif args.action == "prune":
        removed, freed = cache.prune(args.max_size)
        print(f"removed {removed} takes ({freed / 1024 ** 2:.1f} MiB); {cache.info().bytes / 1024 ** 2:.1f} MiB left")
    else:
        print(f"removed {cache.clear()} takes from {cache.root}")
    for note in cache.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _cmd_engines(args: argparse.Namespace) -> int:
    from .. import engines

    for name in engines.available():
        try:
            info = engines.describe(name)
        except Exception as exc:  # a broken third-party plugin must not hide the others
            print(f"{name}: cannot describe ({exc})")
            continue
        caps = [c for c, ok in (("speed", info.native_speed), ("exact length", info.exact_length),
                                ("emotion", info.emotion), ("reference voices", info.reference_voice),
                                ("voice blends", info.voice_blends)) if ok]
        print(f"{name} ({info.version}, {info.sample_rate} Hz; languages {', '.join(info.languages)}; "
              f"{', '.join(caps) or 'no native controls'})")
        for v in info.voices:
            print(f"  {name}:{v.id:16s} {'/'.join(v.languages) or '-':6s} {v.gender or '-':7s} {v.description}")
    from ..voices import embedding

    try:
        print(f"speaker embedder: {embedding.MODEL_ID} ({embedding.model_path()})")
    except embedding.EmbeddingError:
        print(f"speaker embedder: not installed; reference clips, the voice library and the deny list "
              f"need it: {embedding.INSTALL}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="indextts-dub", description="Subtitle-driven dubbing, every line sample-exact.")
    p.add_argument("--version", action="version", version=f"indextts-dub {__version__}")
    p.add_argument("--debug", action="store_true", help="on an unexpected failure, print the whole traceback")
    sub = p.add_subparsers(dest="command", required=True)

    add_dub_parser(sub)

    c = sub.add_parser("cache", help="inspect or trim the take cache")
    c.add_argument("action", choices=("info", "prune", "clear"))
    c.add_argument("-o", "--output", default="out", help="project output folder whose cache to use (default: out)")
    c.add_argument("--cache", help="a cache folder instead of OUTPUT/.indextts-dub-cache")
    c.add_argument("--max-size", type=parse_size, default=None, help="with prune: the size to trim to (default 2G)")
    c.set_defaults(func=_cmd_cache)

    e = sub.add_parser("engines", help="list installed engines and their voices")
    e.set_defaults(func=_cmd_engines)

    from .voices import add_parser as add_voices_parser

    add_voices_parser(sub)
    from .service import add_parsers as add_service_parsers

    add_service_parsers(sub)
    return p


REPORT_TO = "the indextts-dub developers (the project's issue tracker)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv                     # accepted anywhere on the line
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    args.debug = debug
    try:
        return args.func(args)
    except DubError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except SystemFault as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:
        from ..engines import EngineError

        if isinstance(exc, EngineError):
            print(f"error: engine: {exc}", file=sys.stderr)
            return 3
        if args.debug:
            raise
        print(f"error: {fault_line(exc)}", file=sys.stderr)
        return 3


def fault_line(exc: BaseException) -> str:
    """One line for an exception nobody expected: what failed and where, and what to do."""
    import errno
    import traceback

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"no space left on the device{where}; free some space and run again"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "indextts_dub" in f.filename.replace("\\", "/")] or frames
    at = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return (f"internal error: {type(exc).__name__}{': ' + text if text else ''}{at}. This is a fault of "
            f"indextts-dub: please report it to {REPORT_TO} with the output of the same command run with --debug")
