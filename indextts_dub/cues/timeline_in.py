"""Timelines in: an editor's timeline (any format an installed OpenTimelineIO adapter reads)
opened and measured: its frame rate (exact), start timecode, length in samples, where each
of its parts sits in the file, and which of its media exist.

OTIO JSON (``.otio``, ``.otioz``, ``.otiod``) is read through :mod:`.otio_json` (errors with
lines, newer schemas); FCP 7 XML, ``.kdenlive``, AAF and the rest through their adapters.
"""
from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

from .. import timebase
from ..errors import DubError, Problem
from .otio_json import KEY, JsonDocument, JsonPath, path_text, read_timeline_json
from .subtitles import FORMATS as SUBTITLE_SUFFIXES

JSON_SUFFIXES = (".otio", ".otioz", ".otiod")

# Timeline formats whose OpenTimelineIO adapter is a separate package: the suffix -> what to
# install (an extra of ours where we test the adapter, else the adapter's own package).
ADAPTER_PACKAGES = {
    ".aaf": ("AAF", "pip install 'indextts-dub[aaf]'"),
    ".edl": ("CMX 3600 EDL", "pip install 'indextts-dub[edl]'"),
    ".fcpxml": ("Final Cut Pro X XML", "pip install otio-fcpx-xml-adapter"),
    ".ale": ("Avid Log Exchange", "pip install otio-ale-adapter"),
    ".xges": ("GStreamer Editing Services", "pip install otio-xges-adapter"),
}


@dataclass(frozen=True)
class TimelineOptions:
    """How a run treats an editor timeline (the CLI's timeline flags)."""

    marker_color: str | None = None          # dialogue markers have this colour (e.g. GREEN)
    marker_prefix: str | None = None         # ... or names starting with this (e.g. "DLG:")
    dialogue_track: str | None = None        # dialogue as clips on the track with this name
    subtitle_clock: str = "auto"             # auto | programme | timecode (see align_subtitle_cues)
    fps: Fraction | None = None              # the rate, for timelines that carry none
    subtitle_fps: Fraction | None = None     # the rate the subtitles were timed at, when known
    allow_offline_media: bool = False        # media the timeline references may be missing


@dataclass
class TimelineIn:
    """An input timeline, measured."""

    path: Path
    timeline: Any                      # otio.schema.Timeline (schemas readable by this OTIO)
    adapter: str
    json: JsonDocument | None          # the document as written, for OTIO JSON inputs
    rate: Fraction
    rate_from: str
    start_frame: int                   # global start time, frames at ``rate``
    drop_frame: bool
    length: int                        # samples at 48 kHz: the programme
    offline_media: list[Problem] = field(default_factory=list)

    @property
    def start_timecode(self) -> str:
        return timebase.smpte(self.start_frame, self.rate, self.drop_frame)

    def where(self, path: JsonPath) -> int | None:
        """The line of the part at ``path`` (OTIO JSON inputs), else None."""
        return self.json.line(path) if self.json is not None else None

    def problem(self, path: JsonPath, message: str, fld: str | None = None) -> Problem:
        return Problem(str(self.path), self.where(path), fld or path_text(path), message)

    def describe(self) -> dict:
        return {"file": str(self.path), "adapter": self.adapter, "frame_rate": timebase.rate_text(self.rate),
                "frame_rate_from": self.rate_from, "start_timecode": self.start_timecode,
                "drop_frame": self.drop_frame, "programme_samples": self.length}


# ---------------------------------------------------------------- which files are timelines

def timeline_suffixes() -> set[str]:
    """Suffixes (with dot) some installed OpenTimelineIO adapter reads, subtitles excepted."""
    import opentimelineio as otio

    try:
        found = {"." + s.lower() for s in otio.adapters.suffixes_with_defined_adapters(read=True)}
    except Exception:   # a broken third-party plugin must not stop plain subtitle runs
        found = set(JSON_SUFFIXES)
    return (found | set(JSON_SUFFIXES)) - set(SUBTITLE_SUFFIXES)


def is_timeline(path: str | Path) -> bool:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in SUBTITLE_SUFFIXES:
        return False
    if suffix in JSON_SUFFIXES or (p.is_dir() and suffix == ".otiod") or suffix in ADAPTER_PACKAGES:
        return True
    return suffix in timeline_suffixes()


# ---------------------------------------------------------------- reading

def _adapter_arguments(adapter, opts: TimelineOptions) -> dict:
    """What a run knows that the adapter's reader takes: the frame rate (``--fps``) for
    readers with a ``rate`` argument (the CMX 3600 EDL reader assumes 24 otherwise)."""
    import inspect

    if opts.fps is None:
        return {}
    params: set[str] = set()
    for fn in ("read_from_file", "read_from_string"):      # the adapter uses one or the other
        try:
            params |= set(inspect.signature(getattr(adapter.module(), fn)).parameters)
        except (AttributeError, TypeError, ValueError):
            continue
    return {"rate": float(opts.fps)} if "rate" in params else {}


def _read_any(path: Path, opts: TimelineOptions):
    """(timeline, adapter name, JsonDocument or None)."""
    import opentimelineio as otio

    suffix = path.suffix.lower()
    if not path.exists():
        raise DubError.at(path, None, None, "file not found")
    if suffix == ".otio":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DubError.at(path, None, "JSON", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        obj, jd = read_timeline_json(text, path)
        return obj, "otio_json", jd
    if suffix == ".otioz":
        try:
            with zipfile.ZipFile(path) as z:
                text = z.read("content.otio").decode("utf-8-sig")
        except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
            raise DubError.at(path, None, "content.otio", f"not an OTIOZ bundle ({exc})") from None
        obj, jd = read_timeline_json(text, f"{path}!content.otio")
        return obj, "otioz", jd
    if suffix == ".otiod":
        content = path / "content.otio"
        if not content.is_file():
            raise DubError.at(path, None, "content.otio", "not an OTIOD folder (no content.otio)")
        obj, jd = read_timeline_json(content.read_text(encoding="utf-8-sig"), content)
        return obj, "otiod", jd
    try:
        adapter = otio.adapters.from_filepath(str(path))
    except Exception:
        if suffix in ADAPTER_PACKAGES:
            what, install = ADAPTER_PACKAGES[suffix]
            raise DubError.at(path, None, None, f"reading {what} timelines needs its OpenTimelineIO adapter, "
                                               f"which is not installed: {install}") from None
        known = ", ".join(sorted(timeline_suffixes()))
        raise DubError.at(path, None, None, f"no installed OpenTimelineIO adapter reads {suffix or 'this'} files "
                                           f"(readable here: {known})") from None
    args = _adapter_arguments(adapter, opts)
    try:
        with contextlib.redirect_stdout(io.StringIO()):    # some adapters print notices
            obj = adapter.read_from_file(str(path), **args)
    except Exception as exc:
        hint = ""
        if "rate" in str(exc).lower() and opts.fps is None:
            hint = " (if the timeline is not at 24 fps, give its rate with --fps, e.g. --fps 25)"
        raise DubError.at(path, None, adapter.name, f"the {adapter.name} adapter cannot read it: "
                                                    f"{type(exc).__name__}: {exc}{hint}") from None
    return obj, adapter.name, None


def _first_timeline(obj, path: Path):
    import opentimelineio as otio

    if isinstance(obj, otio.schema.Timeline):
        return obj
    if isinstance(obj, otio.schema.SerializableCollection):
        tls = [c for c in obj.find_children(descended_from_type=otio.schema.Timeline)] if hasattr(
            obj, "find_children") else [c for c in obj if isinstance(c, otio.schema.Timeline)]
        if len(tls) == 1:
            return tls[0]
        raise DubError.at(path, None, None, f"holds {len(tls)} timelines; export the one to dub on its own")
    raise DubError.at(path, None, "OTIO_SCHEMA", f"holds a {type(obj).__name__}, not a timeline")


def video_rate(tl) -> Fraction | None:
    """The frame rate most of the video track's items run at (None without a video track)."""
    import opentimelineio as otio

    counts: Counter = Counter()
    for track in tl.tracks:
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        for item, _path in walk_from(track, ()):
            if not isinstance(item, (otio.schema.Clip, otio.schema.Gap)):   # transitions, nested containers
                continue
            sr = item.source_range
            if sr is not None and sr.duration.rate > 0:
                counts[timebase.rate_fraction(sr.duration.rate)] += 2 if isinstance(item, otio.schema.Gap) else 1
    if not counts:
        return None
    return counts.most_common(1)[0][0]


def _drop_frame(tl, rate: Fraction) -> bool:
    if not timebase.is_drop_frame_rate(rate):
        return False
    fcp_tc = tl.metadata.get("fcp_xml", {}).get("timecode", {}) if "fcp_xml" in tl.metadata else {}
    fmt = str(fcp_tc.get("displayformat", "")).upper() if hasattr(fcp_tc, "get") else ""
    return fmt != "NDF"


def open_timeline(path: str | Path, opts: TimelineOptions | None = None, *, check_media: bool = True) -> TimelineIn:
    """Read and measure a timeline; :class:`DubError` (file, line, field) for anything that
    stops a dub against it."""
    opts = opts or TimelineOptions()
    path = Path(path)
    obj, adapter, jd = _read_any(path, opts)
    tl = _first_timeline(obj, path)

    gst = tl.global_start_time
    own = tl.metadata.get(KEY, {}) if KEY in tl.metadata else {}
    own_rate = own.get("frame_rate") if hasattr(own, "get") else None
    video = video_rate(tl)
    if gst is not None and 0 < gst.rate < 1000:          # 1000 and up: a clock (ms, samples), not frames
        rate, rate_from = timebase.rate_fraction(gst.rate), "global_start_time"
    elif video is not None:
        rate, rate_from = video, "video track"
    elif own_rate:
        rate, rate_from = Fraction(str(own_rate)), f"{KEY}.frame_rate"
    elif opts.fps is not None:
        rate, rate_from = opts.fps, "--fps"
    else:
        raise DubError.at(path, jd.line(("global_start_time",)) if jd else None, "global_start_time",
                          "the timeline has no video track and no global start time, so its frame rate is "
                          "unknown; give it with --fps (e.g. --fps 24000/1001)")
    if opts.fps is not None and opts.fps != rate:
        raise DubError.at(path, None, "rate", f"--fps {timebase.rate_label(opts.fps)} disagrees with the timeline's "
                                              f"{timebase.rate_label(rate)} fps (from its {rate_from})")
    start_frame = round(Fraction(gst.value) * rate / timebase.rate_fraction(gst.rate)) if gst is not None else 0
    try:
        length = timebase.rt_to_samples(tl.duration())
    except Exception as exc:
        raise DubError.at(path, None, "tracks", f"cannot measure the timeline: {exc}") from None
    if length <= 0:
        raise DubError.at(path, jd.line(("tracks",)) if jd else None, "tracks",
                          "the timeline is empty (length 0): nothing to dub against")
    tin = TimelineIn(path, tl, adapter, jd, rate, rate_from, start_frame, _drop_frame(tl, rate), length)
    if check_media:
        tin.offline_media = missing_media(tin)
        if tin.offline_media and not opts.allow_offline_media:
            raise DubError([*tin.offline_media[:20],
                            Problem(str(path), None, None,
                                    f"{len(tin.offline_media)} media reference(s) point at files that do not exist; "
                                    "relink them, or pass --allow-offline-media to dub anyway (the references are "
                                    "kept as they are)")])
    return tin


# ---------------------------------------------------------------- walking with JSON paths

def walk(tl) -> Iterator[tuple[Any, JsonPath]]:
    """Every composable of the timeline with the JSON path it has in an OTIO file: the top
    stack, its tracks, their items, nested stacks and tracks and their items, depth first.

    The one walker of an input timeline's tracks: transitions come too (they are
    composables but not items: no markers, no media, no time of their own in the track), so
    callers pick what they need with :func:`items`, or test the type.
    """
    yield from walk_from(tl.tracks, ("tracks",))


def walk_from(obj, path: JsonPath) -> Iterator[tuple[Any, JsonPath]]:
    """:func:`walk` from one composable (a track, a nested stack) down."""
    import opentimelineio as otio

    yield obj, path
    if isinstance(obj, otio.core.Composition):
        for i, child in enumerate(obj):
            yield from walk_from(child, path + ("children", i))


def items(tl, kind=None) -> Iterator[tuple[Any, JsonPath]]:
    """The items (clips, gaps, tracks, stacks; no transitions) :func:`walk` meets, only those
    of ``kind`` (a schema class or a tuple of them) when given."""
    import opentimelineio as otio

    want = kind or otio.core.Item
    for obj, path in walk(tl):
        if isinstance(obj, want):
            yield obj, path


def range_in_timeline(tl, owner, r):
    """A range in ``owner``'s own coordinates (a marker's ``marked_range``, a clip's trimmed
    range) as the range it covers in the coordinates of the timeline's top stack, cut to
    what each enclosing item shows; None when some level trims it out of sight (a marker
    outside the part of its clip the cut shows, transitions' handles included; a clip outside
    a nested stack's source range). The top
    stack and its tracks cut nothing: what lies past the programme is the caller's to report."""
    import opentimelineio as otio

    def visible(cur, item):
        # an item in a track shows its handles too where a transition plays over them
        shown = item.visible_range() if isinstance(item.parent(), otio.schema.Track) else item.trimmed_range()
        start = max(cur.start_time, shown.start_time)
        end = min(cur.end_time_exclusive(), shown.end_time_exclusive())
        if cur.duration.value <= 0:                         # a point: inside, or gone
            inside = shown.start_time <= cur.start_time < shown.end_time_exclusive()
            return cur if inside else None
        return otio.opentime.range_from_start_end_time(start, end) if start < end else None

    stack = tl.tracks
    top = {id(stack), *(id(t) for t in stack)}
    cur = r if id(owner) in top else visible(r, owner)
    node = owner
    while cur is not None and node is not stack:
        parent = node.parent()
        if parent is None:                                  # not in this timeline
            return None
        cur = node.transformed_time_range(cur, parent)
        if id(parent) not in top:
            cur = visible(cur, parent)
        node = parent
    return cur


def _media_ref_paths(tin: TimelineIn, clip, path: JsonPath) -> Iterator[tuple[Any, JsonPath]]:
    node = None
    if tin.json is not None:
        node = tin.json.doc
        try:
            for p in path:
                node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
    refs = clip.media_references()
    if isinstance(node, dict) and "media_reference" in node and "media_references" not in node:
        yield clip.media_reference, path + ("media_reference",)
        return
    for key, ref in refs.items():
        yield ref, path + ("media_references", key)


def resolve_media_path(target_url: str, timeline_path: Path) -> Path | None:
    """The local file a reference points at (relative ones against the timeline's folder),
    or None for non-file URLs."""
    import urllib.parse

    from opentimelineio import url_utils

    parsed = urllib.parse.urlparse(target_url)
    if parsed.scheme not in ("file", "") and not (len(parsed.scheme) == 1 and target_url[1:2] == ":"):
        return None
    if parsed.scheme == "file":
        p = Path(url_utils.filepath_from_url(target_url))
    else:
        p = Path(urllib.parse.unquote(target_url))
    if re.match(r"^/?[A-Za-z]:[/\\]", str(p)):       # a Windows drive path (file:///D:/...)
        return Path(str(p).lstrip("/"))
    if not p.is_absolute():
        base = timeline_path.parent if timeline_path.suffix.lower() != ".otiod" else timeline_path
        p = base / p
    return p


def missing_media(tin: TimelineIn) -> list[Problem]:
    """A problem for each external reference whose file does not exist."""
    import opentimelineio as otio

    out = []
    bundle_names: set[str] | None = None
    if tin.adapter == "otioz":
        with zipfile.ZipFile(tin.path) as z:
            bundle_names = set(z.namelist())
    for obj, path in items(tin.timeline, otio.schema.Clip):
        for ref, rpath in _media_ref_paths(tin, obj, path):
            if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
                continue
            if bundle_names is not None and not ref.target_url.startswith(("file:", "/")):
                if ref.target_url.lstrip("./") in bundle_names:
                    continue
            p = resolve_media_path(ref.target_url, tin.path)
            if p is None or p.exists():
                continue
            out.append(Problem(str(tin.path), tin.where(rpath), path_text(rpath + ("target_url",)),
                               f"clip {obj.name!r}: media {ref.target_url} does not exist ({p})"))
    return out

