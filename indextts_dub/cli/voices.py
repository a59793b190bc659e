"""``indextts-dub voices ...``: the voice library from the command line.

    indextts-dub voices add NAME clip.wav --consent "..." [--by WHO] [--for PURPOSE] [--date DATE] [--replace]
    indextts-dub voices list
    indextts-dub voices show NAME
    indextts-dub voices remove NAME
    indextts-dub voices deny NAME clip.wav --reason "..." [--threshold 0.8]
    indextts-dub voices undeny NAME
    (all take --library PATH; default: $INDEXTTS_DUB_LIBRARY, else the user's data folder)

add, list, show and remove also take ``--server URL`` (with ``--key KEY``, default
``$INDEXTTS_DUB_KEY``): the caller's registered voices on a server (``/v1/voices``) instead of a
local library; the server's refusals are shown as messages naming the flag or the clip (exit 2),
a server that cannot be reached or refuses the key as one line (exit 3).
"""
from __future__ import annotations

import argparse
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import DubError


_FLAG = {"consent": "--consent", "by": "--by", "for": "--for", "date": "--date", "name": "NAME",
         "replace": "--replace"}


@contextmanager
def _server(args):
    """The client of ``--server`` with the key of ``--key`` or ``$INDEXTTS_DUB_KEY``; the server's
    refusals as the command line's problems (its form fields as the flags, the clip by the path
    given), a server that cannot be reached, refuses the key or answers nonsense: exit 3."""
    import os

    from ..errors import Problem, SystemFault

    from .service import _service_module

    client = _service_module("client")
    key = args.key or os.environ.get(client.KEY_ENV)
    if not key:
        raise DubError.at(None, None, "--key", f"--server needs an API key: --key KEY or ${client.KEY_ENV}")
    clip = getattr(args, "clip", None)
    try:
        yield client.Client(args.server, key)
    except DubError as exc:
        raise DubError([Problem(str(clip) if clip and p.file == Path(clip).name else p.file, p.line,
                                _FLAG.get(p.field or "", p.field),
                                p.message.replace("send replace=true", "pass --replace"))
                        for p in exc.problems]) from None
    except client.ServiceError as exc:
        if exc.status == 404 and getattr(args, "name", None) is not None:
            raise DubError.at(None, None, "NAME", f"no voice named {args.name!r} on {args.server}") from None
        if exc.status == 413:
            raise DubError.at(clip, None, "clip", f"too large for the server ({exc})") from None
        raise SystemFault(f"service: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemFault(f"service: {args.server} did not answer as an indextts-dub server ({exc})") from None


def _here_or_there(local, remote):
    """The command for ``args``: ``remote`` with ``--server``, else ``local`` (the library)."""
    def run(args) -> int:
        if args.server and args.library:
            raise DubError.at(None, None, "--server", "give --server or --library, not both")
        return (remote if args.server else local)(args)
    return run


def _remote_add(args) -> int:
    with _server(args) as c:
        v = c.add_voice(args.name, args.clip, args.consent, args.by, args.purpose, args.date, args.replace)
    k = v["consent"]
    print(f"added {v['name']}: {v['seconds']:.1f} s of speech, clip {v['clip_hash'][:12]}, consent by {k['who']} "
          f"({k['when']}) for {k['for']}")
    print(f"server: {args.server}")
    return 0


def _remote_list(args) -> int:
    with _server(args) as c:
        found = c.voices()
    if not found:
        print(f"no voices on {args.server}")
    for v in found:
        k = v["consent"]
        print(f"{v['name']:20s} {v['seconds']:5.1f} s  clip {v['clip_hash'][:12]}  consent: {k['who']}, "
              f"{k['when']}, for {k['for']}")
    return 0


def _remote_show(args) -> int:
    with _server(args) as c:
        v = c.voice(args.name)
    k = v["consent"]
    print(f"name:        {v['name']}")
    print(f"clip:        {v['clip_hash']} ({v['seconds']:.2f} s, from {v['original_name']})")
    print(f"consent:     {k['who']} agreed on {k['when']} for {k['for']}")
    print(f"statement:   {k['statement']}")
    print(f"added:       {v['added_at']}")
    print(f"server:      {args.server}")
    return 0


def _remote_remove(args) -> int:
    with _server(args) as c:
        c.remove_voice(args.name)
    print(f"removed {args.name} from {args.server} (its clip, embedding and cached conditioning are gone)")
    return 0


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

    def common(p, server: bool = False):
        p.add_argument("--library", help="library file (default: $INDEXTTS_DUB_LIBRARY, else the user's data folder)")
        if server:
            p.add_argument("--server", help="a server's voices for your key instead (e.g. http://127.0.0.1:8000)")
            p.add_argument("--key", help="with --server: your API key (default: $INDEXTTS_DUB_KEY)")
        return p

    a = common(vs.add_parser("add", help="add a voice from a 3-15 s clip, with the speaker's consent"), True)
    a.add_argument("name")
    a.add_argument("clip")
    a.add_argument("--consent", required=True, help="the consent as given (required)")
    a.add_argument("--by", help="who agreed (default: NAME)")
    a.add_argument("--for", dest="purpose", help="what the voice may be used for (default: dubbing)")
    a.add_argument("--date", help="when consent was given (default: today, UTC)")
    a.add_argument("--replace", action="store_true", help="replace a voice of the same name")
    a.set_defaults(func=_here_or_there(_add, _remote_add))
    common(vs.add_parser("list", help="list voices and denied voices"), True).set_defaults(
        func=_here_or_there(_list, _remote_list))
    s = common(vs.add_parser("show", help="one voice: clip, consent, embedding, cached conditioning"), True)
    s.add_argument("name")
    s.set_defaults(func=_here_or_there(_show, _remote_show))
    r = common(vs.add_parser("remove", help="remove a voice (and its clip when no other voice uses it)"), True)
    r.add_argument("name")
    r.set_defaults(func=_here_or_there(_remove, _remote_remove))
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
