"""A cue: one subtitle event or one dialogue marker or clip of a timeline, times in samples.

Also the cleaning every cue's text gets, whatever it came from: styling out, our inline
``{key=value}`` tags collected, a ``Name:`` or ``[Name]`` speaker prefix split off.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cue:
    """One line of dialogue as a subtitle file or a timeline gives it, times in samples at 48 kHz.

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
    line: int = 0              # line of the cue's timing (SRT/VTT) or Dialogue (ASS); 0: the file has none
    prefix: str | None = None  # a "Name:" the text opens with that the file alone does not show to be a
                               # speaker (seen once); casting takes it when the cast names that character
    turn: int = 0              # the part of a cue split at its dashes or labels (1, 2, ...); 0: not split

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def where(self) -> str:
        """The cue in a message: ``line 12``, or its id where the file has no lines (an AAF's
        or EDL's markers: ``marker 'Hi' at 01:00:05:12``)."""
        return f"line {self.line}" if self.line else self.id

    @property
    def source(self) -> str:
        """``file:line``, or ``file`` and the cue's id where the file has no lines."""
        return f"{self.file}:{self.line}" if self.line else f"{self.file} ({self.id})"


@dataclass(frozen=True)
class Skipped:
    """A cue that is not spoken, and why (listed in the summary and in plan.json ``skipped``)."""

    cue: Cue
    reason: str


class Cues(list):
    """The cues of one input in time order (a plain list of :class:`Cue`), with what reading it
    decided beside them: ``skipped`` (cues read but not spoken, each with its reason),
    ``speak`` (the language chosen of a bilingual file) and ``warnings`` (what the run's summary should say about the file: a layout chosen, lines
    dropped as players drop them, a suspect encoding)."""

    def __init__(self, cues=(), skipped=(), warnings=(), speak: str | None = None):
        super().__init__(cues)
        self.skipped: list[Skipped] = list(skipped)
        self.warnings: list[str] = list(warnings)
        self.speak = speak          # the language spoken of a bilingual file (None: not bilingual)


# ---------------------------------------------------------------- text cleaning

_OVERRIDE = re.compile(r"\{\\[^}]*\}")                      # ASS override block {\i1}
_OUR_TAG = re.compile(r"\{\s*([a-z_]+)\s*=\s*([^{}]*?)\s*\}")  # {emotion=angry:0.8}
_BRACES = re.compile(r"\{[^}]*\}")                            # any other ASS comment block
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_VTT_TS = re.compile(r"<\s*\d[\d:.]*\s*>")
_RT = re.compile(r"<rt>.*?</rt>", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # NUL and the other C0 controls but tab and breaks


def plain(text: str) -> str:
    """``text`` with NUL and the other control characters (which C libraries, players and XML
    cut or refuse) as spaces: what follows a NUL is still text."""
    return _CONTROL.sub(" ", text)


def clean_text(text: str) -> tuple[str, dict[str, str]]:
    """Styling out, our inline ``{key=value}`` tags out (returned), line breaks to ``\\n``."""
    tags: dict[str, str] = {}
    text = plain(text)

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
    lines = [re.sub(r"[ \t\f\v]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln), tags


_BRACKET = re.compile(r"^\s*[\[【]([^\]】\n]{1,40})[\]】]\s*(.*)$", re.S)
_PREFIX = re.compile(r"^\s*([^\W\d_][^:：\n]{0,30}?)\s*[:：]\s*(\S.*|)$", re.S)   # empty: only tags followed


def split_speaker(text: str) -> tuple[str | None, str | None, str]:
    """``"Alice: hi"`` / ``"[Alice] hi"`` -> ``("Alice", how, "hi")``; otherwise ``(None, None, text)``."""
    m = _BRACKET.match(text)
    if m and m.group(2).strip():
        return re.sub(r"\s+", " ", m.group(1)).strip(), "bracket", m.group(2).strip()
    m = _PREFIX.match(text)
    if m:
        name = re.sub(r"\s+", " ", m.group(1)).strip()
        if len(name.split()) <= 4 and not re.search(r"\d|[,.!?;，。！？；\"“”()（）]", name):
            return name, "prefix", m.group(2).strip()
    return None, None, text
