"""DaVinci Resolve: Workspace > Scripts > Edit > IndexTTS Dub.

Dubs the current timeline with indextts-dub and brings the result back:

1. the current timeline is exported to OpenTimelineIO (``Timeline.Export(..., EXPORT_OTIO)``);
2. the dialogue comes from, in this order: the subtitle file named in the settings, the
   timeline's subtitle track(s) (written as a cue timeline at the timeline's frame rate, so
   nothing is rounded), or its markers of the configured colour;
3. ``indextts-dub dub`` runs on it (a separate process: Resolve's Python needs nothing installed);
4. the dubbed lines are imported into a media pool bin "indextts-dub" and the dubbed timeline
   (``editor/timeline.otio``: the exported timeline + one audio track per character, clips on
   frames, sub-frame remainders as leading silence) is imported as "<name> (dub)" and opened.

Settings: ``indextts_dub_resolve.json`` beside this script, or the file named by
``$INDEXTTS_DUB_RESOLVE_CONFIG``::

    {"command": "/path/to/.venv/bin/indextts-dub", "cast": "/path/to/cast.yaml",
     "subtitles": null, "marker_color": "Green", "output": "~/indextts-dub",
     "extra_args": ["--speed-max", "1.2"]}

Install (copy this file): Linux ``~/.local/share/DaVinciResolve/Fusion/Scripts/Edit/``
(all users ``/opt/resolve/Fusion/Scripts/Edit/``); macOS ``~/Library/Application
Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit/`` (all users
``/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit/``);
Windows ``%APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts\\Edit\\``
(all users ``%PROGRAMDATA%\\Blackmagic Design\\DaVinci Resolve\\Fusion\\Scripts\\Edit\\``).
Needs DaVinci Resolve 18.5 or later (OTIO export and import).
"""
import json
import os
import re
import shlex
import subprocess
import sys
import time

CONFIG_NAME = "indextts_dub_resolve.json"
DEFAULTS = {"command": "indextts-dub", "cast": None, "subtitles": None, "marker_color": "Green",
            "output": os.path.join("~", "indextts-dub"), "extra_args": [], "allow_offline_media": False}


class DubFailed(Exception):
    pass


def load_config(script_dir=None):
    path = os.environ.get("INDEXTTS_DUB_RESOLVE_CONFIG") or os.path.join(
        script_dir or os.path.dirname(os.path.abspath(__file__)), CONFIG_NAME)
    cfg = dict(DEFAULTS)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            cfg.update(json.load(fh))
    return cfg


def _safe(name):
    return re.sub(r"[^\w\-]+", "_", name, flags=re.UNICODE).strip("_") or "timeline"


def _rate(text):
    """Resolve's frame rate setting ("23.976", "24", "29.97", ...) -> (numerator, denominator)."""
    r = float(text)
    for base in (24, 30, 48, 60, 120):
        if abs(r - base * 1000 / 1001) < 5e-3:
            return base * 1000, 1001
    return int(round(r)), 1


def _subtitle_items(timeline):
    items = []
    try:
        count = int(timeline.GetTrackCount("subtitle") or 0)
    except Exception:        # older Resolve without subtitle tracks
        return items
    for i in range(1, count + 1):
        for item in (timeline.GetItemListInTrack("subtitle", i) or []):
            items.append(item)
    return items


def write_cue_timeline(items, timeline, path):
    """The subtitle track as a cue timeline (OpenTimelineIO JSON, written by hand: Resolve's
    Python has no OpenTimelineIO) at the timeline's frame rate, frames from its first frame."""
    num, den = _rate(timeline.GetSetting("timelineFrameRate"))
    rate = num / den
    start = int(timeline.GetStartFrame())
    length = int(timeline.GetEndFrame()) - start

    def rt(v):
        return {"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": float(v)}

    def tr(a, n):
        return {"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(a), "duration": rt(n)}

    def gap(n):
        return {"OTIO_SCHEMA": "Gap.1", "name": "", "metadata": {}, "source_range": tr(0, n), "effects": [],
                "markers": [], "enabled": True}

    children, pos = [], 0
    for item in sorted(items, key=lambda it: it.GetStart()):
        a, b = int(item.GetStart()) - start, int(item.GetEnd()) - start
        text = item.GetName()
        if a < pos or b <= a or not text.strip():
            continue
        if a > pos:
            children.append(gap(a - pos))
        children.append({"OTIO_SCHEMA": "Clip.1", "name": text, "metadata": {"indextts_dub": {"text": text}},
                         "source_range": tr(0, b - a), "effects": [], "markers": [], "enabled": True,
                         "media_reference": None})
        pos = b
    doc = {"OTIO_SCHEMA": "Timeline.1", "name": timeline.GetName() + " subtitles", "metadata": {},
           "global_start_time": rt(0),
           "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "metadata": {}, "source_range": None,
                      "effects": [], "markers": [], "enabled": True,
                      "children": [{"OTIO_SCHEMA": "Track.1", "name": "Scene", "kind": "Video", "metadata": {},
                                    "source_range": None, "effects": [], "markers": [], "enabled": True,
                                    "children": [gap(length)]},
                                   {"OTIO_SCHEMA": "Track.1", "name": "Dialogue", "kind": "Video",
                                    "metadata": {}, "source_range": None, "effects": [], "markers": [],
                                    "enabled": True, "children": children}]}}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=4, ensure_ascii=False)
    return path


def dub_command(cfg, source, out, subtitles=None, cue_timeline=None):
    args = shlex.split(cfg["command"]) if isinstance(cfg["command"], str) else list(cfg["command"])
    args += ["dub", source, "-o", out, "-q", "--editor-copies", "otio,otioz"]
    if subtitles:
        args += ["--subtitles", subtitles]
    elif cue_timeline:
        args += ["--subtitles", cue_timeline, "--dialogue-track", "Dialogue", "--subtitle-clock", "programme"]
    else:
        args += ["--marker-color", cfg["marker_color"]]
    if cfg.get("cast"):
        args += ["--cast", os.path.expanduser(cfg["cast"])]
    if cfg.get("allow_offline_media"):
        args += ["--allow-offline-media"]
    return args + list(cfg.get("extra_args") or [])


def run(resolve, cfg, runner=subprocess.run, log=print):
    """Export, dub, import. Returns a dict of what happened; raises DubFailed with a message."""
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        raise DubFailed("no project is open")
    timeline = project.GetCurrentTimeline()
    if timeline is None:
        raise DubFailed("no timeline is open")
    name = timeline.GetName()
    work = os.path.join(os.path.expanduser(cfg["output"]), f"{_safe(name)}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "source.otio")
    if not timeline.Export(source, resolve.EXPORT_OTIO, resolve.EXPORT_NONE):
        raise DubFailed(f"Resolve could not export the timeline {name!r} to OpenTimelineIO (needs Resolve 18.5+)")
    cue_tl = None
    subs = cfg.get("subtitles")
    if not subs:
        items = _subtitle_items(timeline)
        if items:
            cue_tl = write_cue_timeline(items, timeline, os.path.join(work, "subtitles.otio"))
    out = os.path.join(work, "dub")
    args = dub_command(cfg, source, out, os.path.expanduser(subs) if subs else None, cue_tl)
    log("indextts-dub: " + " ".join(shlex.quote(a) for a in args))
    proc = runner(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DubFailed((proc.stderr or proc.stdout or "indextts-dub failed").strip())
    log(proc.stdout.strip())
    editor = os.path.join(out, "editor", "timeline.otio")
    media_dir = os.path.join(out, "editor", "media")
    pool = project.GetMediaPool()
    folder = pool.AddSubFolder(pool.GetRootFolder(), "indextts-dub")
    if folder:
        pool.SetCurrentFolder(folder)
    wavs = sorted(os.path.join(media_dir, f) for f in os.listdir(media_dir) if f.endswith(".wav"))
    imported = pool.ImportMedia(wavs) or []
    new_name = f"{name} (dub)"
    new = pool.ImportTimelineFromFile(editor, {"timelineName": new_name, "importSourceClips": True})
    if not new:
        raise DubFailed(f"Resolve could not import {editor}")
    project.SetCurrentTimeline(new)
    return {"work": work, "source": source, "output": out, "timeline": new_name, "media": len(imported),
            "cue_timeline": cue_tl, "command": args}


def _resolve_handle():
    g = globals()
    if g.get("resolve") is not None:
        return g["resolve"]
    if g.get("bmd") is not None:
        return g["bmd"].scriptapp("Resolve")
    try:
        import DaVinciResolveScript as dvr   # external scripting (Resolve Studio)
    except ImportError:
        return None
    return dvr.scriptapp("Resolve")


def main():
    resolve = _resolve_handle()
    if resolve is None:
        print("IndexTTS Dub: run this from DaVinci Resolve (Workspace > Scripts)", file=sys.stderr)
        return 1
    try:
        result = run(resolve, load_config())
    except DubFailed as exc:
        print(f"IndexTTS Dub failed: {exc}", file=sys.stderr)
        return 2
    print(f"IndexTTS Dub: opened timeline {result['timeline']!r} ({result['media']} dubbed lines in bin "
          f"'indextts-dub'); files in {result['work']}")
    return 0


# Resolve runs menu scripts with its scripting objects (resolve, bmd) as globals; run then, or
# when started as a program; stay quiet when imported (the tests import it).
if __name__ == "__main__" or globals().get("resolve") is not None or globals().get("bmd") is not None:
    main()
