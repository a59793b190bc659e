"""Stage 1, cues: subtitle files (SRT, ASS/SSA, WebVTT) to :class:`Cues`.

WebVTT is read by the W3C parsing rules (:mod:`.webvtt`). SRT and ASS/SSA are parsed by
pysubs2, with a light scan of the raw lines beside it that gives each cue the line it came from
and checks every timing line strictly, so a broken file is reported at its line instead of
being silently merged into the previous cue (SRT timing lines: :data:`TIMED`; ASS/SSA events:
their own scan). Times become integer samples at 48 kHz here.
"""
from __future__ import annotations

import functools
import re
import warnings as warnings_module
from dataclasses import dataclass
from pathlib import Path

from .. import timebase
from ..errors import DubError, Problems
from ..text.encoding import read_text
from . import ass, dialogue, webvtt
from .cue import Cue, Cues, Skipped, clean_text, plain

FORMATS = {".srt": "srt", ".ass": "ass", ".ssa": "ssa", ".vtt": "vtt"}


# ---------------------------------------------------------------- format scans

def _format_of(path: Path, text: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    import pysubs2

    try:
        guessed = pysubs2.formats.autodetect_format(text)
    except Exception:  # pysubs2 raises its own errors for unknown or empty content
        guessed = None
    if guessed in ("srt", "ass", "ssa", "vtt"):
        return guessed
    raise DubError.at(path, None, None, "not a subtitle file this tool reads (SRT, ASS/SSA, WebVTT)")


@dataclass(frozen=True)
class Timed:
    """How one line-based format (SRT, WebVTT) writes a timing line."""

    stamp: str           # the attribute path of pysubs2's timestamp pattern (counts stamps on a line)
    line: re.Pattern     # a whole timing line: start, end, cue settings
    arrow: str | None    # a timing line must hold this (None: any line with two timestamps is one)
    example: str

    def stamps(self, line: str) -> int:
        return len(_timestamp_pattern(self.stamp).findall(line))


@functools.lru_cache(maxsize=None)
def _timestamp_pattern(stamp: str):
    """pysubs2's own timestamp pattern of a format (``"subrip.SubripFormat"``)."""
    import pysubs2

    fmt, cls = stamp.split(".")
    return getattr(getattr(pysubs2.formats, fmt), cls).TIMESTAMP


TIMED = {
    "srt": Timed("subrip.SubripFormat",
                 re.compile(r"^\s*(\d{1,2}:\d{1,2}:\d{1,2}[,.]\d{1,3})\s*-{1,2}>\s*(\d{1,2}:\d{1,2}:\d{1,2}[,.]\d{1,3})(\s.*)?$"),
                 None, "HH:MM:SS,mmm --> HH:MM:SS,mmm"),
}


def _check_clock(problems: Problems, path, lineno, fld, stamp: str) -> None:
    parts = [int(x) for x in re.split(r"[:.,]", stamp.strip())]
    h, m, s = ([0] + parts if len(parts) == 3 else parts)[:3]
    if m >= 60 or s >= 60:
        problems.add(path, lineno, fld, f"{h:02d}:{m:02d}:{s:02d} is not a valid time (minutes and seconds must be under 60)")


def _scan_timed(path: Path, lines: list[str], problems: Problems, spec: Timed) -> list[tuple[int, str, list[str]]]:
    """Timing lines with their number, the cue id above them and the payload lines below."""
    found: list[tuple[int, str, list[str]]] = []
    for i, ln in enumerate(lines):
        n = spec.stamps(ln)
        if n >= 2 and (spec.arrow is None or spec.arrow in ln):
            m = spec.line.match(ln)
            if not m or n != 2:
                problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected '{spec.example}')")
                continue
            _check_clock(problems, path, i + 1, "start", m.group(1))
            _check_clock(problems, path, i + 1, "end", m.group(2))
            above = lines[i - 1].strip() if i > 0 else ""
            cue_id = above if above and "-->" not in above else ""
            payload = []
            j = i + 1
            while j < len(lines) and lines[j].strip():
                payload.append(lines[j])
                j += 1
            found.append((i + 1, cue_id, payload))
        elif "-->" in ln and re.search(r"\d+:\d+", ln):
            problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected '{spec.example}')")
    return found


_ASS_TIME = re.compile(r"^\s*-?\d+:\d{1,2}:\d{1,2}(?:[.:]\d{1,3})?\s*$")


def _scan_ass(path: Path, lines: list[str], problems: Problems) -> list[tuple[int, str, list[str]]]:
    """Dialogue/Comment lines of [Events] with their line numbers; checks fields and times."""
    found = []
    section = ""
    fmt: list[str] | None = None
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s.lower()
            continue
        if section != "[events]":
            continue
        key, _, rest = s.partition(":")
        key = key.strip().lower()
        if key == "format":
            fmt = [f.strip().lower() for f in rest.split(",")]
        elif key in ("dialogue", "comment"):
            if fmt is None:
                problems.add(path, i + 1, "Format", "event before the [Events] Format line")
                continue
            values = rest.split(",", len(fmt) - 1)
            if len(values) < len(fmt):
                problems.add(path, i + 1, "Dialogue", f"has {len(values)} fields, the Format line names {len(fmt)}")
                continue
            bad = False
            for fld in ("start", "end"):
                if fld in fmt and not _ASS_TIME.match(values[fmt.index(fld)]):
                    problems.add(path, i + 1, fld.capitalize(), f"malformed time {values[fmt.index(fld)].strip()!r} (expected H:MM:SS.cc)")
                    bad = True
            if not bad:
                found.append((i + 1, "", [key]))
    return found


# ---------------------------------------------------------------- reading

@dataclass
class Event:
    """One subtitle event as its format gives it, before its text is cleaned."""

    line: int                      # line of the timing line (SRT/VTT) or the Dialogue line (ASS)
    id: str
    start_ms: int
    end_ms: int
    raw: str
    speaker: str | None = None
    speaker_from: str | None = None
    style: str | None = None
    skip: str | None = None        # why it is not dialogue, when its format says so (an ASS drawing or sign)


def _vtt_events(path: Path, text: str, warnings: list[str]) -> list[Event]:
    try:
        doc = webvtt.parse(text)
    except webvtt.NotWebVTT as exc:
        raise DubError.at(path, 1, None, str(exc)) from None
    for line, why in doc.dropped:
        warnings.append(f"{path}:{line}: timing: {why}; players drop this cue, so the dub does too")
    events = []
    for c in doc.cues:
        named = [who for who, _ in c.voices if who]
        events.append(Event(c.line, c.id, c.start_ms, c.end_ms, _voice_labels(c.voices) if len(set(named)) > 1 else c.text,
                            named[0] if named else None, "voice-tag" if named else None))
    return events


def _voice_labels(voices: list[tuple[str | None, str]]) -> str:
    """A cue of several ``<v>`` voices as the text of one with mid-cue labels (``Name: ...`` on
    the line where another voice starts), which the dialogue reader splits between the voices
    (:func:`.dialogue.decide` takes every voice the file names as a speaker)."""
    out, prev = [], None
    for k, (who, text) in enumerate(voices):
        text = text.strip("\n")
        if not text.strip():
            continue
        if k > 0 and who and who != prev:
            text = f"{who}: {text.lstrip()}"
        out.append(text)
        prev = who or prev
    return "\n".join(out)


def _pysubs2_events(path: Path, text: str, fmt: str, warnings: list[str]) -> list[Event]:
    """SRT and ASS/SSA: pysubs2 parses, the scan beside it checks every timing and gives lines."""
    import pysubs2

    lines = text.split("\n")
    problems = Problems()
    scan = _scan_timed(path, lines, problems, TIMED[fmt]) if fmt in TIMED else _scan_ass(path, lines, problems)
    problems.raise_if_any()
    try:
        with warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore")      # pysubs2 warns (and uses defaults) for odd style fields
            subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as exc:  # pysubs2 raises several types for broken files
        raise DubError.at(path, None, None, f"cannot parse as {fmt.upper()}: {exc}") from None
    found = list(subs)
    if len(found) != len(scan):
        raise DubError.at(path, None, None,
                          f"found {len(scan)} timing lines but {len(found)} cues; the file's structure is broken")
    pairs = [(ev, scan_row) for ev, scan_row in zip(found, scan) if not (fmt in ("ass", "ssa") and ev.is_comment)]
    drawn = [ass.without_drawings(ev.text) if fmt in ("ass", "ssa") else (ev.text, False) for ev, _ in pairs]
    signs = ass.sign_reasons([(ev.start, ev.end, ev.style, text, had) for (ev, _), (text, had) in zip(pairs, drawn)]) \
        if fmt in ("ass", "ssa") else {}
    events = []
    for k, (ev, (lineno, cue_id, _payload)) in enumerate(pairs):
        raw, had_drawing = drawn[k]
        skip = "drawing ({\\p1})" if had_drawing and not clean_text(raw)[0].strip() else signs.get(k)
        start, end = ev.start, ev.end
        if start < 0 and end >= 0:
            warnings.append(f"{path}:{lineno}: Start: {start} ms is before the programme starts; the cue starts at 0")
            start = 0
        name = plain(ev.name).strip() if fmt in ("ass", "ssa") else ""
        style = ev.style if fmt in ("ass", "ssa") and ev.style and ev.style != "Default" else None
        events.append(Event(lineno, cue_id, start, end, raw, name or None, "name-field" if name else None, style, skip))
    return events


def read_cues(path: str | Path, encoding: str | None = None, speak: str | None = None) -> Cues:
    """Read a subtitle file into cues sorted by start (stable), times in samples at 48 kHz.

    Raises :class:`DubError` naming file, line and field for unreadable files, malformed
    timings (SRT, ASS), cues ending before they start and files without any cue. What the file
    holds but is not spoken is listed in the result's ``skipped``, what a user should know in
    its ``warnings``. ``speak`` picks the language of a bilingual file (``zh`` or ``en``; default:
    its primary language), see :mod:`.dialogue`.
    """
    path = Path(path)
    warnings: list[str] = []
    text, _enc = read_text(path, encoding, warnings=warnings)
    if not text.strip():
        raise DubError.at(path, None, None, "the subtitle file is empty")
    fmt = _format_of(path, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")    # only these end a line (not \f, \v, U+2028)
    events = _vtt_events(path, text, warnings) if fmt == "vtt" else _pysubs2_events(path, text, fmt, warnings)
    problems = Problems()
    cues: list[Cue] = []
    for n, ev in enumerate(events, start=1):
        if ev.end_ms < ev.start_ms:
            problems.add(path, ev.line, "end",
                         f"ends ({timebase.timecode(timebase.ms_to_samples(ev.end_ms))}) before it starts "
                         f"({timebase.timecode(timebase.ms_to_samples(ev.start_ms))})")
            continue
        cleaned, tags = clean_text(ev.raw)
        cues.append(Cue(
            index=n, id=ev.id or str(n),
            start=timebase.ms_to_samples(ev.start_ms), end=timebase.ms_to_samples(ev.end_ms),
            text=cleaned, speaker=ev.speaker, speaker_from=ev.speaker_from, style=ev.style, tags=tags,
            file=str(path), line=ev.line,
        ))
    problems.raise_if_any()
    if not cues:
        raise DubError.at(path, None, None, f"no cues found in this {fmt.upper()} file")
    signs = [Skipped(c, events[c.index - 1].skip) for c in cues if events[c.index - 1].skip]
    cues = [c for c in cues if not events[c.index - 1].skip]
    cues.sort(key=lambda c: (c.start, c.index))
    spoken, skipped, notes, chosen = dialogue.decide(cues, speak, str(path))
    skipped = sorted(signs + skipped, key=lambda s: (s.cue.start, s.cue.index))
    spoken.sort(key=lambda c: (c.start, c.index))
    return Cues(spoken, skipped, warnings + notes, chosen)
