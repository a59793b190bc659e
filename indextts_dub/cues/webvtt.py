"""WebVTT read by the W3C parsing rules (https://www.w3.org/TR/webvtt1/#file-parsing).

What a player keeps is what the dub speaks: blocks are collected as the spec collects them (a
cue identifier is the line above the timing line, never text; ``NOTE``, ``STYLE`` and ``REGION``
blocks and the header are never cues; a line holding ``-->`` ends the cue before it), timestamps
are read by the spec's rules (hours optional, exactly two minute and second digits, three
fraction digits; anything after the end time is cue settings), and a block whose timing line
is not valid is dropped, as players drop it, with a warning naming its line. Cue text markup
(``<c>``, ``<i>``, ``<v Name>``, ``<lang>``, inline timestamps ``<00:00:01.000>``, ruby and its
``<rt>`` readings, which are shown above the text and never spoken) is read by the cue text
tokenizer's rules; character references stay for :func:`~.cue.clean_text` to decode.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_WS = " \t\f\r\n"        # WebVTT whitespace (the parser has already turned CR into LF)


@dataclass(frozen=True)
class VttCue:
    line: int                   # 1-based line of the timing line
    id: str
    start_ms: int
    end_ms: int
    text: str                   # the cue text with markup out (character references kept)
    voices: list[tuple[str | None, str]] = field(default_factory=list)  # (<v> name, text) in order
    timestamps: bool = False    # had inline timestamps (karaoke, YouTube auto-captions)


@dataclass
class VttFile:
    cues: list[VttCue]
    dropped: list[tuple[int, str]]      # (line, why) of blocks players drop
    header: list[str]                   # the header lines after WEBVTT (Kind:, Language:, ...)


class NotWebVTT(ValueError):
    """The file does not start with the WEBVTT signature."""


# ---------------------------------------------------------------- timestamps

def _timestamp(s: str, i: int) -> tuple[int, int] | None:
    """The spec's "collect a WebVTT timestamp" from ``s[i:]``: ``(milliseconds, next index)``."""
    def digits(j: int) -> tuple[str, int]:
        k = j
        while k < len(s) and "0" <= s[k] <= "9":
            k += 1
        return s[j:k], k

    if i >= len(s) or not ("0" <= s[i] <= "9"):
        return None
    d1, i = digits(i)
    hours_first = len(d1) != 2 or int(d1) > 59
    if i >= len(s) or s[i] != ":":
        return None
    d2, i = digits(i + 1)
    if len(d2) != 2:
        return None
    if hours_first or (i < len(s) and s[i] == ":"):
        if i >= len(s) or s[i] != ":":
            return None
        d3, i = digits(i + 1)
        if len(d3) != 2:
            return None
        h, m, sec = int(d1), int(d2), int(d3)
    else:
        h, m, sec = 0, int(d1), int(d2)
    if i >= len(s) or s[i] != ".":
        return None
    d4, i = digits(i + 1)
    if len(d4) != 3 or m > 59 or sec > 59:
        return None
    return ((h * 60 + m) * 60 + sec) * 1000 + int(d4), i


def _timings(line: str) -> tuple[int, int, str] | str:
    """``(start_ms, end_ms, settings)`` of a timing line, or why it is not one."""
    i = len(line) - len(line.lstrip(_WS))
    got = _timestamp(line, i)
    if got is None:
        return "the start time is not a WebVTT timestamp ([HH:]MM:SS.mmm)"
    start, i = got
    while i < len(line) and line[i] in _WS:
        i += 1
    if not line.startswith("-->", i):
        return "no '-->' after the start time"
    i += 3
    while i < len(line) and line[i] in _WS:
        i += 1
    got = _timestamp(line, i)
    if got is None:
        return "the end time is not a WebVTT timestamp ([HH:]MM:SS.mmm)"
    end, i = got
    return start, end, line[i:].strip(_WS)


# ---------------------------------------------------------------- cue text

_TOKEN = re.compile(r"<([^>]*)(?:>|$)|([^<]+)", re.S)
_TAG_HEAD = re.compile(r"([^ \t\n\f]*)[ \t\n\f]*(.*)", re.S)   # name.classes, then the annotation
_INLINE_TS = re.compile(r"^(?:\d+:)?\d{2}:\d{2}\.\d{3}$")


def cue_text(raw: str) -> tuple[str, list[tuple[str | None, str]], bool]:
    """Markup out of a cue's text: ``(text, [(voice, text) ...], had inline timestamps)``.

    Ruby readings (``<rt>`` inside ``<ruby>``) are left out; everything else keeps its text."""
    out: list[str] = []
    voices: list[tuple[str | None, list[str]]] = [(None, [])]
    stack: list[str] = []
    stamps = False
    for m in _TOKEN.finditer(raw):
        if m.group(2) is not None:
            if "rt" not in stack:
                out.append(m.group(2))
                voices[-1][1].append(m.group(2))
            continue
        tag = m.group(1)
        if _INLINE_TS.match(tag.strip()):
            stamps = True
            continue
        if tag.startswith("/"):
            name = re.split(r"[\s.]", tag[1:], maxsplit=1)[0]
            if name in stack:
                if name == "ruby" and stack[-1] == "rt":
                    stack.pop()
                if stack and stack[-1] == name:
                    stack.pop()
            continue
        head = _TAG_HEAD.match(tag)
        name, annotation = head.group(1).split(".", 1)[0], head.group(2)
        if name == "rt":
            if stack and stack[-1] == "ruby":
                stack.append("rt")
        elif name in ("c", "i", "b", "u", "ruby", "v", "lang"):
            stack.append(name)
            if name == "v":
                who = " ".join(annotation.replace("\0", " ").split()) or None
                if "".join(voices[-1][1]).strip() or voices[-1][0] is not None:
                    voices.append((who, []))
                else:
                    voices[-1] = (who, [])
    parts = [(who, "".join(t)) for who, t in voices]
    parts = [(who, t) for who, t in parts if t.strip() or who is not None]
    return "".join(out), parts, stamps


# ---------------------------------------------------------------- the file

def parse(text: str) -> VttFile:
    """A WebVTT file's cues, by the W3C parser algorithm; raises :class:`NotWebVTT`."""
    text = text.replace("\0", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    first = lines[0]
    if not (first == "WEBVTT" or (first.startswith("WEBVTT") and first[6] in " \t")):
        raise NotWebVTT("the first line must be WEBVTT (a WebVTT file's signature)")
    n = len(lines)
    pos = 1
    header: list[str] = []
    if pos < n and lines[pos] != "":           # a header block: ends at a blank line or a timing line
        while pos < n and lines[pos] != "" and "-->" not in lines[pos]:
            header.append(lines[pos])
            pos += 1
    cues: list[VttCue] = []
    dropped: list[tuple[int, str]] = []
    while True:
        while pos < n and lines[pos] == "":
            pos += 1
        if pos >= n:
            break
        pos = _block(lines, pos, cues, dropped)
    return VttFile(cues, dropped, header)


def _block(lines: list[str], pos: int, cues: list[VttCue], dropped: list[tuple[int, str]]) -> int:
    """Collect one block from ``lines[pos]`` (the spec's "collect a WebVTT block"); the next position."""
    n = len(lines)
    count = 0
    buffer: list[str] = []
    seen_arrow = False
    timing: tuple[int, int, str] | None = None
    timing_line = 0
    cue_id = ""
    while pos < n:
        line = lines[pos]
        count += 1
        if "-->" in line:
            if count == 1 or (count == 2 and not seen_arrow):
                seen_arrow = True
                got = _timings(line)
                if isinstance(got, str):
                    dropped.append((pos + 1, f"{got}: {line.strip()!r}"))
                    timing = None
                else:
                    timing, timing_line = got, pos + 1
                cue_id = "\n".join(buffer)
                buffer = []
                pos += 1
                continue
            break                                   # a timing line ends this block; the next starts there
        if line == "":
            pos += 1
            break
        buffer.append(line)
        pos += 1
    if timing is not None:
        raw = "\n".join(buffer)
        text, voices, stamps = cue_text(raw)
        cues.append(VttCue(timing_line, cue_id, timing[0], timing[1], text, voices, stamps))
    return pos
