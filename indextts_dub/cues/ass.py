"""ASS/SSA events as libass shows them: what is drawn is not said.

- **Drawings.** ``{\\p1}m 0 0 l 100 0 …`` is a vector shape from ``\\p`` (any level above 0) until
  ``{\\p0}``, never text; it is taken out before anything else. An event that is only a drawing
  is skipped.
- **Signs and typesetting** (on-screen text, not dialogue), each skipped with its reason:
  events in a style named for signs, typesetting, songs or titles (``Sign``, ``TS``,
  ``Typeset``, ``OP``, ``ED``, ``Karaoke``, ``Romaji`` …); frame-by-frame copies (events of
  100 ms or less whose text another such event repeats within a second); events placed with
  ``\\pos`` or ``\\move`` in a style that is not a dialogue style (one whose events are mostly
  placed or that short; a style with one event is a dialogue style).
- **Karaoke** (sung, not spoken): an event whose syllables are timed with ``\\k``, ``\\K``,
  ``\\kf`` or ``\\ko`` (two or more), whatever its style is called, is skipped as lyrics.
"""
from __future__ import annotations

import re
from collections import Counter

_DRAWING = re.compile(r"(\{[^}]*\\p(?:[1-9]\d*)[^}]*\})(.*?)(?=\{[^}]*\\p0[^}]*\}|$)", re.S)
_PLACED = re.compile(r"\{[^}]*\\(?:pos|move)\s*\(")
_SIGN_STYLE = re.compile(r"(?:^|[\W_])(?:signs?|ts|typeset\w*|op|ed|opening|ending|karaoke|kara|kfx|romaji|kanji|"
                         r"lyrics?|song|insert|title|logo|credits?|staff|screen|overlay|caption)(?:[\W_\d]|$)", re.I)
_KARAOKE = re.compile(r"\\(?:k[fo]?|K)\d")
FRAME_COPY_MS = 100


def without_drawings(raw: str) -> tuple[str, bool]:
    """The event text with vector drawings out, and whether it had one."""
    out, n = _DRAWING.subn(lambda m: m.group(1), raw)
    return out, n > 0


def sign_reasons(events: list[tuple[int, int, str, str, bool]]) -> dict[int, str]:
    """Which events are signs: ``{position: reason}`` for ``(start_ms, end_ms, style, raw text,
    had a drawing)`` in file order."""
    def short(e) -> bool:
        return e[1] - e[0] <= FRAME_COPY_MS

    placed_by_style: Counter[str] = Counter()
    all_by_style: Counter[str] = Counter()
    for e in events:
        all_by_style[e[2]] += 1
        if _PLACED.search(e[3]) or short(e):
            placed_by_style[e[2]] += 1
    dialogue_styles = {s for s, n in all_by_style.items() if n < 2 or placed_by_style[s] * 2 < n}
    plain = [re.sub(r"\{[^}]*\}", "", e[3]).strip() for e in events]
    reasons: dict[int, str] = {}
    for i, e in enumerate(events):
        if _SIGN_STYLE.search(e[2] or ""):
            reasons[i] = f"sign (style {e[2]})"
        elif sum(len(_KARAOKE.findall(b)) for b in re.findall(r"\{[^}]*\}", e[3])) >= 2:
            reasons[i] = "lyrics (karaoke timing)"
        elif short(e) and plain[i] and any(
                j != i and plain[j] == plain[i] and short(events[j]) and abs(events[j][0] - e[0]) <= 1000
                for j in range(max(0, i - 50), min(len(events), i + 51))):
            reasons[i] = f"sign (a {e[1] - e[0]} ms frame-by-frame copy)"
        elif _PLACED.search(e[3]) and e[2] not in dialogue_styles:
            reasons[i] = f"sign (\\pos or \\move in style {e[2]}, which is not a dialogue style)"
    return reasons
