"""The command line's timeline flags (``indextts-dub dub cut.otio --subtitles ...``)."""
from __future__ import annotations

import argparse

from ..cues.timeline_in import TimelineOptions
from ..timebase import parse_rate


def add_arguments(d: argparse.ArgumentParser) -> None:
    g = d.add_argument_group("editor timelines (INPUT may be .otio, .otioz, FCP 7 .xml, .kdenlive, .aaf, ...)")
    g.add_argument("--subtitles", dest="subtitles_file", metavar="FILE", help="dub these subtitles (or cue timeline) against the timeline INPUT")
    g.add_argument("--marker-color", metavar="COLOUR", help="dialogue is in the timeline's markers of this colour (e.g. GREEN)")
    g.add_argument("--marker-prefix", metavar="TEXT", help="dialogue is in markers whose name starts with TEXT (removed from the line)")
    g.add_argument("--dialogue-track", metavar="NAME", help="dialogue is in the clips of the track named NAME")
    g.add_argument("--subtitle-clock", choices=("auto", "programme", "timecode"), default="auto",
                   help="subtitle times count from the timeline's first frame (programme) or are its timecode "
                        "(timecode); auto decides from the times (default)")
    g.add_argument("--fps", metavar="RATE", help="frame rate for a timeline that carries none, or for editor copies "
                                                 "of a subtitle-only run (e.g. 24000/1001)")
    g.add_argument("--subtitle-fps", metavar="RATE", help="the frame rate the subtitles were timed at")
    g.add_argument("--editor-copies", metavar="LIST", help="editor copies to write: otio,otioz,fcp7,kdenlive "
                                                         "(default all) or none")
    g.add_argument("--allow-offline-media", action="store_true",
                   help="dub even when media the timeline references do not exist (references kept as they are)")


def options(args: argparse.Namespace) -> TimelineOptions:
    return TimelineOptions(
        marker_color=args.marker_color, marker_prefix=args.marker_prefix, dialogue_track=args.dialogue_track,
        subtitle_clock=args.subtitle_clock,
        fps=parse_rate(args.fps, "--fps") if args.fps else None,
        subtitle_fps=parse_rate(args.subtitle_fps, "--subtitle-fps") if args.subtitle_fps else None,
        allow_offline_media=args.allow_offline_media)


def editor_copies(args: argparse.Namespace) -> tuple[str, ...] | None:
    return tuple(x for x in args.editor_copies.split(",")) if args.editor_copies is not None else None


def inputs(args: argparse.Namespace) -> tuple[str, str | None]:
    """(subtitles, timeline) for :func:`indextts_dub.dub` from INPUT and ``--subtitles``."""
    if args.subtitles_file:
        return args.subtitles_file, args.subtitles
    return args.subtitles, None
