"""Reading subtitle text files whose encoding nobody wrote down.

Order of evidence: a byte-order mark; strict UTF-8; UTF-8 but for a few lines (each read on its
own, GB18030 or cp1252, and named in a warning); UTF-16 without a BOM (NUL bytes in
every other position); then the Chinese legacy encodings GB18030 and Big5 (cp950),
told apart by whether the GB reading gives common simplified characters; then
charset-normalizer for everything else (cp1252, Shift-JIS, ...).
"""
from __future__ import annotations

import codecs
from pathlib import Path

from ..errors import DubError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _han(text: str) -> list[str]:
    return [c for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"]


def _share_in_gb2312(text: str) -> float:
    """Share of Han characters that GB2312 (the common simplified set) holds."""
    han = _han(text)
    if not han:
        return 0.0
    ok = 0
    for c in han:
        try:
            c.encode("gb2312")
            ok += 1
        except UnicodeEncodeError:
            pass
    return ok / len(han)


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < 4 or len(data) % 2:
        return None
    even_nul = data[0::2].count(0) / (len(data) / 2)
    odd_nul = data[1::2].count(0) / (len(data) / 2)
    if odd_nul > 0.3 and even_nul < 0.05:
        return _strict(data, "utf-16-le")
    if even_nul > 0.3 and odd_nul < 0.05:
        return _strict(data, "utf-16-be")
    return None


def _mixed_utf8(data: bytes) -> tuple[str, list[tuple[int, str]]] | None:
    """A file that is UTF-8 but for a few lines (a cue pasted from a GBK or cp1252 file): the text,
    each odd line decoded on its own, and ``[(line, encoding)]`` of those lines; None when most of
    the file is not UTF-8."""
    if b"\0" in data:
        return None
    rows = data.split(b"\n")
    bad = [i for i, row in enumerate(rows) if _strict(row, "utf-8") is None]
    good = sum(1 for row in rows if not row.isascii() and _strict(row, "utf-8") is not None)
    if not bad or good < 2 * len(bad):       # UTF-8 must be what the file's other non-ASCII lines are
        return None
    odd: list[tuple[int, str]] = []
    out = []
    for i, row in enumerate(rows):
        text = _strict(row, "utf-8")
        if text is None:
            gb = _strict(row, "gb18030")
            enc = "gb18030" if gb is not None and _han(gb) else "cp1252"
            text = gb if enc == "gb18030" else row.decode("cp1252", errors="replace")
            odd.append((i + 1, enc))
        out.append(text)
    return "\n".join(out), odd


def detect(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)`` for raw bytes; raises ``ValueError`` when nothing fits."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            text = _strict(data[len(bom):], enc)
            if text is None:
                raise ValueError(f"starts with a {enc} byte-order mark but is not valid {enc}")
            return text, enc + " (BOM)"
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    mixed = _mixed_utf8(data)
    if mixed is not None:
        return mixed[0], "utf-8, with " + ", ".join(f"line {n} in {enc}" for n, enc in mixed[1])
    text = _utf16_without_bom(data)
    if text is not None:
        return text, "utf-16"
    gb = _strict(data, "gb18030")
    big5 = _strict(data, "cp950") or _strict(data, "big5hkscs")
    if gb is not None and (big5 is None or _share_in_gb2312(gb) >= 0.95):
        if _han(gb):
            return gb, "gb18030"
    if big5 is not None and _han(big5):
        return big5, "big5"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        from_bytes = None
    if from_bytes is not None:
        best = from_bytes(data).best()
        if best is not None:
            return str(best), best.encoding
    if gb is not None:
        return gb, "gb18030"
    raise ValueError("cannot tell its text encoding")


def read_text(path: str | Path, encoding: str | None = None, field: str = "encoding",
              warnings: list[str] | None = None) -> tuple[str, str]:
    """Read a text file as ``(text, encoding_used)``; errors name the file and, where known, the line.

    A UTF-8 file with a few lines in another encoding (a cue pasted from a GBK file) is read line
    by line; each such line is named in ``warnings``, never turned silently into mojibake."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DubError.at(path, None, None, "file not found") from None
    except IsADirectoryError:
        raise DubError.at(path, None, None, "is a folder, not a file") from None
    except OSError as exc:
        raise DubError.at(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise DubError.at(path, None, field, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DubError.at(path, line, field, f"not valid {encoding} at byte {exc.start}") from None
        return text.lstrip("\ufeff"), encoding
    try:
        text, enc = detect(data)
    except ValueError as exc:
        raise DubError.at(path, None, field, f"{exc}; name it with --encoding") from None
    if warnings is not None and ", with line" in enc:
        for part in enc.split(", with ", 1)[1].split(", "):
            n, other = part.removeprefix("line ").split(" in ")
            warnings.append(f"{path}:{n}: {field}: not UTF-8 like the rest of the file; read as {other}: check this "
                            "line (or name the file's encoding with --encoding)")
    return text, enc
