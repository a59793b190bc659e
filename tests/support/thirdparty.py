"""Third-party subtitle test files (tests/data/thirdparty/<source>/) and what the dub makes of them.

Each source folder holds copies of another project's test files, its ``PROVENANCE.md`` and an
``expected.json``: file -> the text of each cue as that project's own tests expect it (``null``:
the file must be refused). :func:`outcome` compares what the dub would speak, cue by cue, with
that text put through the same speech normalisation; an optional ``not-dialogue.json`` lists the
cues (file -> {1-based cue position: reason}) that upstream parses as text but that are not
dialogue (karaoke lyrics): they must be skipped with that reason, the others spoken as expected.
``python tests/support/thirdparty.py``
prints the figures per source (files read / refused / crashed / wrong).
"""
from __future__ import annotations

import html
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "data" / "thirdparty"
SOURCES = ("wpt-webvtt", "vttjs", "pysubs2", "pysrt")
MARKUP = ("wpt-webvtt", "vttjs")          # their expected texts are raw WebVTT cue text


@dataclass(frozen=True)
class Case:
    source: str
    name: str                      # the file's path inside its source folder
    expected: list[str] | None     # each cue's text as the upstream tests expect it; None: refused
    not_dialogue: tuple[tuple[int, str], ...] = ()   # (1-based cue position, skip reason)

    @property
    def path(self) -> Path:
        return ROOT / self.source / self.name


def cases(source: str) -> list[Case]:
    expected = json.loads((ROOT / source / "expected.json").read_text(encoding="utf-8"))
    extra = ROOT / source / "not-dialogue.json"
    skips = json.loads(extra.read_text(encoding="utf-8")) if extra.is_file() else {}
    return [Case(source, name, texts, tuple(sorted((int(k), v) for k, v in skips.get(name, {}).items())))
            for name, texts in sorted(expected.items())]


def _unescape_wpt(s: str) -> bytes:
    """The WebVTT file of a web-platform-tests ``.test`` source (after its ``===`` line)."""
    out = bytearray()
    i = 0
    simple = {"n": b"\n", "r": b"\r", "t": b"\t", "f": b"\f", "v": b"\v", "0": b"\0", "\\": b"\\", "\n": b""}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "x":
                out += bytes([int(s[i + 2:i + 4], 16)])
                i += 4
                continue
            if nxt == "u":
                out += chr(int(s[i + 2:i + 6], 16)).encode("utf-8")
                i += 6
                continue
            if nxt in simple:
                out += simple[nxt]
                i += 2
                continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def materialise(case: Case, folder: Path) -> Path:
    """The subtitle file of a case (a ``.test`` source becomes its ``.vtt``)."""
    if case.path.suffix != ".test":
        return case.path
    text = case.path.read_text(encoding="utf-8")
    body = text.split("\n===\n", 1)[1]
    out = folder / (case.path.stem + ".vtt")
    out.write_bytes(_unescape_wpt(body))
    return out


_TAG = re.compile(r"<[^>]*(?:>|$)")   # the cue text tokenizer: a tag runs to ">" or the end
_RUBY = re.compile(r"<ruby[^>]*>.*?(?:</ruby>|$)", re.S)
_RUBY_TEXT = re.compile(r"<rt[.\s>].*?(?:</rt>|(?=</ruby>)|$)", re.S)


def expected_speech(texts: list[str], markup: bool = False) -> list[str]:
    """What a listener should hear of each expected cue text; ``markup``: the texts are raw
    WebVTT cue text (tags and ruby readings out, character references decoded)."""
    from indextts_dub.text.speech import has_han, speakable, speech_text

    out = []
    for t in texts:
        if markup:
            t = _RUBY.sub(lambda m: _RUBY_TEXT.sub("", m.group(0)), t)
            t = html.unescape(_TAG.sub("", t))
        s = speech_text(t, "zh" if has_han(t) else "en")
        if speakable(s):
            out.append(s)
    return out


def spoken(path: Path) -> list[str]:
    """What the dub would speak of a subtitle file, cue by cue (skipped cues left out; the lines of a
    cue split between voices joined again)."""
    from indextts_dub.cues import read_cues
    from indextts_dub.text.speech import has_han, speakable, speech_text

    out: list[str] = []
    last_line = None
    for cue in read_cues(path):
        if cue.end <= cue.start:
            continue
        s = speech_text(cue.text, "zh" if has_han(cue.text) else "en")
        if not speakable(s):
            continue
        if cue.line == last_line:
            out[-1] += " " + s           # a cue split between two voices (dash dialogue): compared whole
        else:
            out.append(s)
        last_line = cue.line
    return out


def _skip_reasons(path: Path) -> set[str]:
    from indextts_dub.cues import read_cues

    return {sk.reason for sk in read_cues(path).skipped}


def outcome(case: Case) -> tuple[str, str]:
    """``("ok" | "refused" | "crashed" | "wrong", detail)``."""
    from indextts_dub.errors import DubError

    skip = dict(case.not_dialogue)
    texts = None if case.expected is None else [t for i, t in enumerate(case.expected, 1) if i not in skip]
    with tempfile.TemporaryDirectory() as tmp:
        path = materialise(case, Path(tmp))
        try:
            got = spoken(path)
            told = _skip_reasons(path)
        except DubError as exc:
            if texts is None or not expected_speech(texts, markup=case.source in MARKUP):
                missing = [r for r in skip.values() if r not in str(exc)]
                if missing:
                    return "wrong", f"refused without saying {missing!r}: {exc}"
                return "ok", f"refused as it should be: {exc}"
            return "refused", str(exc)
        except Exception as exc:  # noqa: BLE001 - the figure counts crashes
            return "crashed", f"{type(exc).__name__}: {exc}"
    if texts is None:
        return "wrong", f"should be refused, speaks {got!r}"
    if any(r not in told for r in skip.values()):
        return "wrong", f"should skip {sorted(skip.values())!r}, skips {sorted(told)!r}"
    want = expected_speech(texts, markup=case.source in MARKUP)
    if got != want:
        return "wrong", f"speaks {got!r}, expected {want!r}"
    return "ok", ""


def figures(sources=SOURCES, verbose: bool = False) -> dict[str, dict[str, int]]:
    table = {}
    for source in sources:
        counts = {"files": 0, "ok": 0, "refused": 0, "crashed": 0, "wrong": 0}
        for case in cases(source):
            kind, detail = outcome(case)
            counts["files"] += 1
            counts[kind] += 1
            if verbose and kind != "ok":
                print(f"  {source}/{case.name}: {kind}: {detail[:300]}")
        table[source] = counts
    return table


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    for source, c in figures(sys.argv[1:] or SOURCES, verbose=True).items():
        print(f"{source:12s} files {c['files']:4d}  read right {c['ok']:4d}  refused {c['refused']:4d}  "
              f"crashed {c['crashed']:4d}  wrong {c['wrong']:4d}")
