"""``indextts-dub voices ...``: the voice library from the command line.

    indextts-dub voices add NAME clip.wav --consent "..." [--by WHO] [--for PURPOSE] [--date DATE] [--replace]
    indextts-dub voices list
    indextts-dub voices show NAME
    indextts-dub voices remove NAME
    indextts-dub voices deny NAME clip.wav --reason "..." [--threshold 0.8]
    indextts-dub voices undeny NAME
    (all take --library PATH; default: $INDEXTTS_DUB_LIBRARY, else the user's data folder)
"""
from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from ..errors import DubError


def _open(args, write: bool):
    from ..voices.library import Library

    return Library(args.library, write=write)


def _add(args) -> int:
    from ..voices.library import consent_record

    consent = consent_record(args.name, args.consent, args.by, args.purpose, args.date)
    with _open(args, True) as lib:
        e = lib.add(args.name, args.clip, consent, replace=args.replace)
        print(f"added {e.name}: {e.seconds:.1f} s of speech, clip {e.clip_hash[:12]}, consent by {e.consent.who} "
              f"({e.consent.when}) for {e.consent.purpose}")
        print(f"library: {lib.path}")
    return 0


def _list(args) -> int:
    from ..voices.library import Library, default_path

    path = args.library or default_path()
    if not Path(path).exists():
        print(f"no voices (no library at {path})")
        return 0
    lib = Library(path, write=False)            # a damaged library is an error, not "no voices"
    with lib:
        try:
            entries = lib.entries()
            denied = lib.denied()
        except sqlite3.DatabaseError as exc:
            raise DubError.at(lib.path, None, "library", f"the voice library is damaged ({exc})") from None
        if not entries:
            print(f"no voices in {lib.path}")
        for e in entries:
            print(f"{e.name:20s} {e.seconds:5.1f} s  clip {e.clip_hash[:12]}  consent: {e.consent.who}, "
                  f"{e.consent.when}, for {e.consent.purpose}")
        for d in denied:
            print(f"denied: {d.name:12s} threshold {d.threshold:.2f}  {d.reason}")
    return 0


def _show(args) -> int:
    with _open(args, False) as lib:
        e = lib.get(args.name)
        if e is None:
            raise DubError.at(lib.path, None, "NAME",
                              f"no voice named {args.name!r}; known: {', '.join(lib.names()) or '(none)'}")
        print(f"name:        {e.name}")
        print(f"clip:        {e.clip_hash} ({e.seconds:.2f} s at {e.sample_rate} Hz, from {e.original_name})")
        print(f"consent:     {e.consent.who} agreed on {e.consent.when} for {e.consent.purpose}")
        print(f"statement:   {e.consent.statement}")
        print(f"added:       {e.added_at}")
        from ..voices import embedding

        print(f"embedding:   {embedding.MODEL_ID}, {e.embedding.size} values")
        closest = sorted(((embedding.similarity(e.embedding, d.embedding), d.name) for d in lib.denied()), reverse=True)
        if closest:
            print(f"deny list:   closest {closest[0][1]} at {closest[0][0]:.2f}")
        cached = lib.conditioning_kinds(e.clip_hash)
        print("conditioning: " + (", ".join(f"{en} {ver} {k} ({n} bytes)" for en, ver, k, n in cached) or "none cached"))
    return 0


def _remove(args) -> int:
    with _open(args, True) as lib:
        if not lib.remove(args.name):
            raise DubError.at(lib.path, None, "NAME",
                              f"no voice named {args.name!r}; known: {', '.join(lib.names()) or '(none)'}")
        print(f"removed {args.name} (its clip, embedding and cached conditioning are gone)")
    return 0


def _deny(args) -> int:
    with _open(args, True) as lib:
        d = lib.deny(args.name, args.clip, args.reason or "", args.threshold)
        print(f"denied {d.name}: clips at similarity {d.threshold:.2f} or more are refused ({d.reason})")
    return 0


def _undeny(args) -> int:
    with _open(args, True) as lib:
        if not lib.undeny(args.name):
            raise DubError.at(lib.path, None, "NAME", f"{args.name!r} is not on the deny list")
        print(f"{args.name} is no longer denied")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..voices.library import DENY_THRESHOLD

    v = sub.add_parser("voices", help="the voice library: add, list, show, remove, deny")
    vs = v.add_subparsers(dest="voices_command", required=True)

    def common(p):
        p.add_argument("--library", help="library file (default: $INDEXTTS_DUB_LIBRARY, else the user's data folder)")
        return p

    a = common(vs.add_parser("add", help="add a voice from a 3-15 s clip, with the speaker's consent"))
    a.add_argument("name")
    a.add_argument("clip")
    a.add_argument("--consent", required=True, help="the consent as given (required)")
    a.add_argument("--by", help="who agreed (default: NAME)")
    a.add_argument("--for", dest="purpose", help="what the voice may be used for (default: dubbing)")
    a.add_argument("--date", help="when consent was given (default: today, UTC)")
    a.add_argument("--replace", action="store_true", help="replace a voice of the same name")
    a.set_defaults(func=_add)
    common(vs.add_parser("list", help="list voices and denied voices")).set_defaults(func=_list)
    s = common(vs.add_parser("show", help="one voice: clip, consent, embedding, cached conditioning"))
    s.add_argument("name")
    s.set_defaults(func=_show)
    r = common(vs.add_parser("remove", help="remove a voice (and its clip when no other voice uses it)"))
    r.add_argument("name")
    r.set_defaults(func=_remove)
    d = common(vs.add_parser("deny", help="deny a voice: clips too similar to it are refused"))
    d.add_argument("name")
    d.add_argument("clip")
    d.add_argument("--reason", required=True, help="why (e.g. 'public figure')")
    d.add_argument("--threshold", type=float, default=DENY_THRESHOLD,
                   help=f"similarity at or above which a clip is refused (default {DENY_THRESHOLD})")
    d.set_defaults(func=_deny)
    u = common(vs.add_parser("undeny", help="take a voice off the deny list"))
    u.add_argument("name")
    u.set_defaults(func=_undeny)
