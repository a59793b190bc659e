"""Stage 1, cues: subtitle files (SRT, ASS/SSA, WebVTT) to a list of :class:`Cue`.

pysubs2 parses the formats; a light scan of the raw lines beside it gives each cue the
line it came from, the speaker that pysubs2 drops (WebVTT ``<v Name>``) and strict
checks of every timing line, so a broken file is reported at its line instead of being
silently merged into the previous cue. Times become integer samples at 48 kHz here.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import timebase
from .errors import DubError, Problems
from .textenc import read_text

FORMATS = {".srt": "srt", ".ass": "ass", ".ssa": "ssa", ".vtt": "vtt"}


@dataclass(frozen=True)
class Cue:
    """One subtitle event, times in samples at 48 kHz.

    ``text`` is what is shown, with styling and any speaker prefix removed (line breaks
    kept as ``\\n``); ``speaker`` is who says it when the file says so.
    """

    index: int                 # 1-based position in the file
    id: str                    # the file's own cue identifier (SRT number, VTT id) or the index
    start: int                 # samples at 48 kHz
    end: int                   # samples at 48 kHz
    text: str
    speaker: str | None = None
    speaker_from: str | None = None   # "name-field", "voice-tag", "prefix", "bracket"
    style: str | None = None          # the ASS style, a possible speaker hint
    tags: dict[str, str] = field(default_factory=dict)  # inline {key=value} tags of ours
    file: str = ""
    line: int = 0              # line of the cue's timing (SRT/VTT) or Dialogue (ASS)

    @property
    def length(self) -> int:
        return self.end - self.start


# ---------------------------------------------------------------- text cleaning

_OVERRIDE = re.compile(r"\{\\[^}]*\}")                      # ASS override block {\i1}
_OUR_TAG = re.compile(r"\{\s*([a-z_]+)\s*=\s*([^{}]*?)\s*\}")  # {emotion=angry:0.8}
_BRACES = re.compile(r"\{[^}]*\}")                            # any other ASS comment block
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_VTT_TS = re.compile(r"<\s*\d[\d:.]*\s*>")
_RT = re.compile(r"<rt>.*?</rt>", re.S)
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef"


def _join_lines(lines: list[str]) -> str:
    """Join subtitle lines: no space between two CJK characters, one space otherwise."""
    out = ""
    for part in (p.strip() for p in lines):
        if not part:
            continue
        if out and not (re.match(f"[{_HAN}{_CJK_PUNCT}]", out[-1]) and re.match(f"[{_HAN}{_CJK_PUNCT}]", part[0])):
            out += " "
        out += part
    return out


def clean_text(text: str) -> tuple[str, dict[str, str]]:
    """Styling out, our inline ``{key=value}`` tags out (returned), line breaks to ``\\n``."""
    tags: dict[str, str] = {}

    def take(m: re.Match) -> str:
        tags[m.group(1)] = m.group(2)
        return " "

    text = _OVERRIDE.sub("", text)
    text = _OUR_TAG.sub(take, text)
    text = _BRACES.sub("", text)
    text = _RT.sub("", text)
    text = _VTT_TS.sub("", text)
    text = _HTML.sub("", text)
    text = text.replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    text = html.unescape(text).replace("\u00a0", " ")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln), tags


_BRACKET = re.compile(r"^\s*[\[【]([^\]】\n]{1,40})[\]】]\s*(.*)$", re.S)
_PREFIX = re.compile(r"^\s*([^\W\d_][^:：\n]{0,30}?)\s*[:：]\s*(\S.*)$", re.S)


def split_speaker(text: str) -> tuple[str | None, str | None, str]:
    """``"Alice: hi"`` / ``"[Alice] hi"`` -> ``("Alice", how, "hi")``; otherwise ``(None, None, text)``."""
    m = _BRACKET.match(text)
    if m and m.group(2).strip():
        return m.group(1).strip(), "bracket", m.group(2).strip()
    m = _PREFIX.match(text)
    if m:
        name = m.group(1).strip()
        if len(name.split()) <= 4 and not re.search(r"\d|[,.!?;，。！？；\"“”()（）]", name):
            return name, "prefix", m.group(2).strip()
    return None, None, text


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


_SRT_TS = re.compile(r"^\s*(\d{1,2}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-{1,2}>\s*(\d{1,2}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})(\s.*)?$")
_VTT_TS_LINE = re.compile(r"^\s*((?:\d{1,4}:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d{1,4}:)?\d{2}:\d{2}\.\d{3})(\s.*)?$")


def _check_clock(problems: Problems, path, lineno, fld, parts: list[int]) -> None:
    h, m, s = parts[:3]
    if m >= 60 or s >= 60:
        problems.add(path, lineno, fld, f"{h:02d}:{m:02d}:{s:02d} is not a valid time (minutes and seconds must be under 60)")


def _scan_srt(path: Path, lines: list[str], problems: Problems) -> list[tuple[int, str, list[str]]]:
    """Timing lines with their number, the cue id above them and the payload lines below."""
    import pysubs2

    stamp = pysubs2.formats.subrip.SubripFormat.TIMESTAMP
    found: list[tuple[int, str, list[str]]] = []
    for i, ln in enumerate(lines):
        n = len(stamp.findall(ln))
        if n == 2:
            m = _SRT_TS.match(ln)
            if not m:
                problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")
                continue
            g = [int(x) for x in m.groups()[:8]]
            _check_clock(problems, path, i + 1, "start", g[:4])
            _check_clock(problems, path, i + 1, "end", g[4:8])
            cue_id = lines[i - 1].strip() if i > 0 else ""
            payload = []
            for nxt in lines[i + 1:]:
                if not nxt.strip():
                    break
                payload.append(nxt)
            found.append((i + 1, cue_id, payload))
        elif "-->" in ln and re.search(r"\d+:\d+", ln):
            problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")
    return found


def _scan_vtt(path: Path, lines: list[str], problems: Problems) -> list[tuple[int, str, list[str]]]:
    import pysubs2

    stamp = pysubs2.formats.webvtt.WebVTTFormat.TIMESTAMP
    found = []
    for i, ln in enumerate(lines):
        n = len(stamp.findall(ln))
        if n >= 2 and "-->" in ln:
            m = _VTT_TS_LINE.match(ln)
            if not m or n != 2:
                problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected 'HH:MM:SS.mmm --> HH:MM:SS.mmm')")
                continue
            for fld, ts in (("start", m.group(1)), ("end", m.group(2))):
                parts = [int(x) for x in re.split(r"[:.]", ts)]
                if len(parts) == 3:
                    parts = [0] + parts
                _check_clock(problems, path, i + 1, fld, parts)
            cue_id = lines[i - 1].strip() if i > 0 and lines[i - 1].strip() and "-->" not in lines[i - 1] else ""
            payload = []
            for nxt in lines[i + 1:]:
                if not nxt.strip():
                    break
                payload.append(nxt)
            found.append((i + 1, cue_id, payload))
        elif "-->" in ln and re.search(r"\d+:\d+", ln):
            problems.add(path, i + 1, "timing", f"malformed timing line {ln.strip()!r} (expected 'HH:MM:SS.mmm --> HH:MM:SS.mmm')")
    return found


_ASS_TIME = re.compile(r"^\s*\d+:\d{1,2}:\d{1,2}(?:[.:]\d{1,3})?\s*$")


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

def read_cues(path: str | Path, encoding: str | None = None) -> list[Cue]:
    """Read a subtitle file into cues sorted by start (stable), times in samples at 48 kHz.

    Raises :class:`DubError` naming file, line and field for unreadable files, malformed
    timings, cues ending before they start and files without any cue.
    """
    import pysubs2

    path = Path(path)
    text, _enc = read_text(path, encoding)
    if not text.strip():
        raise DubError.at(path, None, None, "the subtitle file is empty")
    fmt = _format_of(path, text)
    lines = text.splitlines()
    problems = Problems()
    scan = {"srt": _scan_srt, "vtt": _scan_vtt, "ass": _scan_ass, "ssa": _scan_ass}[fmt](path, lines, problems)
    problems.raise_if_any()
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as exc:  # pysubs2 raises several types for broken files
        raise DubError.at(path, None, None, f"cannot parse as {fmt.upper()}: {exc}") from None
    events = list(subs)
    if len(events) != len(scan):
        raise DubError.at(path, None, None,
                          f"found {len(scan)} timing lines but {len(events)} cues; the file's structure is broken")
    cues: list[Cue] = []
    for n, (ev, (lineno, cue_id, payload)) in enumerate(zip(events, scan), start=1):
        if fmt in ("ass", "ssa") and ev.is_comment:
            continue
        if ev.end < ev.start:
            problems.add(path, lineno, "end",
                         f"ends ({timebase.timecode(timebase.ms_to_samples(ev.end))}) before it starts "
                         f"({timebase.timecode(timebase.ms_to_samples(ev.start))})")
            continue
        raw = ev.text
        speaker = speaker_from = None
        if fmt == "vtt":
            m = re.search(r"<v(?:\.[^\s>]*)?\s+([^>]+)>", "\n".join(payload))
            if m:
                speaker, speaker_from = m.group(1).strip(), "voice-tag"
        elif fmt in ("ass", "ssa") and ev.name.strip():
            speaker, speaker_from = ev.name.strip(), "name-field"
        cleaned, tags = clean_text(raw)
        if speaker is None:
            who, how, rest = split_speaker(cleaned)
            if who:
                speaker, speaker_from, cleaned = who, how, rest
        style = ev.style if fmt in ("ass", "ssa") and ev.style and ev.style != "Default" else None
        cues.append(Cue(
            index=n, id=cue_id or str(n),
            start=timebase.ms_to_samples(ev.start), end=timebase.ms_to_samples(ev.end),
            text=cleaned, speaker=speaker, speaker_from=speaker_from, style=style, tags=tags,
            file=str(path), line=lineno,
        ))
    problems.raise_if_any()
    if not cues:
        raise DubError.at(path, None, None, f"no cues found in this {fmt.upper()} file")
    cues.sort(key=lambda c: (c.start, c.index))
    return cues


def join_display(text: str) -> str:
    """The cue's text on one line, CJK-aware."""
    return _join_lines(text.split("\n"))
