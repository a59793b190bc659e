"""The voice library: who sounds like what, with their consent, in one SQLite file.

Where: ``--library PATH``, else ``$INDEXTTS_DUB_LIBRARY``, else ``voices.sqlite`` in the
user's data folder (``~/.local/share/indextts-dub`` on Linux). Tables:

``clips``         the normalised clip itself (16-bit WAV at 24 kHz), keyed by its content
                  hash (:func:`refclip.content_hash`), never by a path
``voices``        NAME -> clip hash, and the consent record: who agreed, when, for what,
                  the statement as given
``embeddings``    speaker embedding per (clip hash, embedding model)
``denied``        voices that must not be cloned: a name, an embedding, a threshold, a reason
``conditioning``  per-engine cached conditioning: (engine, engine version, clip hash, kind)
                  -> blob; engines that can cache a speaker's conditioning keep it here

A clip is checked on add (:mod:`refclip`) and refused when it is too similar to a denied
voice; the message names the entry and the similarity. Beside its own ``denied`` table a
library may apply other files' deny lists (``deny_lists``: a studio's or a service's list,
kept in a library file of its own): one rule, :func:`closest_denied`, decides for all of them.
The consent rules (what a record must hold, its defaults) are :func:`consent_record` and
:func:`check_consent`, used by ``indextts-dub voices add`` and the service's ``POST /v1/voices``.
"""
from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import fsio
from ..engines import refclip
from ..errors import DubError
from . import embedding

SCHEMA_VERSION = 1
DENY_THRESHOLD = 0.75      # same voice, other language: about 0.80-0.85; different voices: 0.3-0.7
ENV = "INDEXTTS_DUB_LIBRARY"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    hash TEXT PRIMARY KEY, wav BLOB NOT NULL, sample_rate INTEGER NOT NULL, samples INTEGER NOT NULL,
    original_name TEXT, original_rate INTEGER, channels INTEGER, peak_db REAL, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS voices (
    name TEXT PRIMARY KEY COLLATE NOCASE, clip_hash TEXT NOT NULL REFERENCES clips(hash),
    consent_who TEXT NOT NULL, consent_when TEXT NOT NULL, consent_for TEXT NOT NULL,
    consent_statement TEXT NOT NULL, added_at TEXT NOT NULL, notes TEXT);
CREATE TABLE IF NOT EXISTS embeddings (
    clip_hash TEXT NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (clip_hash, model));
CREATE TABLE IF NOT EXISTS denied (
    name TEXT PRIMARY KEY COLLATE NOCASE, clip_hash TEXT NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL,
    threshold REAL NOT NULL, reason TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conditioning (
    engine TEXT NOT NULL, engine_version TEXT NOT NULL, clip_hash TEXT NOT NULL, kind TEXT NOT NULL,
    data BLOB NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (engine, engine_version, clip_hash, kind));
"""


def default_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    return fsio.data_dir() / "voices.sqlite"


def check_consent_date(when: str) -> str:
    """``when`` as an ISO date or date-time, not in the future; :class:`DubError` naming ``--date`` otherwise."""
    text = str(when).strip()
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DubError.at(None, None, "--date", f"{text!r} is not a date; write it as YYYY-MM-DD "
                          "(or an ISO date-time)") from None
    day = moment.date()
    if day > _dt.datetime.now(_dt.timezone.utc).date() + _dt.timedelta(days=1):
        raise DubError.at(None, None, "--date", f"{text} is in the future; consent is recorded when it was given")
    return text


PURPOSE = "dubbing"        # what a voice may be used for, unless the record says otherwise


def consent_record(name: str, statement: str | None, who: str | None = None, purpose: str | None = None,
            when: str | None = None) -> "Consent":
    """A consent record with the defaults every front end applies: who agreed defaults to the
    voice's ``name``, the purpose to :data:`PURPOSE`, the date to today (UTC)."""
    return Consent(who=(who or "").strip() or name, purpose=(purpose or "").strip() or PURPOSE,
                   when=(when or "").strip() or _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
                   statement=statement or "")


def check_consent(record: "Consent") -> None:
    """:class:`DubError` naming the field (``--consent``, ``--by``, ``--for``, ``--date``) when the
    record lacks who agreed, when, for what or the statement itself, or its date is not one."""
    for fld, value in (("--consent", record.statement), ("--by", record.who), ("--for", record.purpose),
                       ("--date", record.when)):
        if not value or not str(value).strip():
            raise DubError.at(None, None, fld, "the consent record needs who agreed, when, for what and "
                                               "the statement itself")
    check_consent_date(record.when)


def read_denied(path: str | Path) -> list["DeniedVoice"]:
    """The deny list of the library file ``path`` (none when there is no such file)."""
    p = Path(path).expanduser()
    if not p.is_file():
        return []
    with Library(p, write=False) as lib:
        return lib.denied(own=True)


def closest_denied(emb: np.ndarray, denied: list["DeniedVoice"]) -> "DenyMatch | None":
    """The denied voice ``emb`` is too close to (at or past that entry's threshold; the closest
    such), if any: the one deny rule."""
    best = None
    for d in denied:
        s = embedding.similarity(emb, d.embedding)
        if s >= d.threshold and (best is None or s > best.similarity):
            best = DenyMatch(d.name, s, d.threshold, d.reason)
    return best


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Consent:
    who: str          # who agreed
    when: str         # ISO date or date-time
    purpose: str      # what for
    statement: str    # the consent as given


@dataclass(frozen=True)
class VoiceEntry:
    name: str
    clip_hash: str
    seconds: float
    sample_rate: int
    consent: Consent
    added_at: str
    original_name: str
    embedding: np.ndarray


@dataclass(frozen=True)
class DeniedVoice:
    name: str
    clip_hash: str
    threshold: float
    reason: str
    added_at: str
    embedding: np.ndarray


@dataclass(frozen=True)
class DenyMatch:
    name: str
    similarity: float
    threshold: float
    reason: str

    def message(self, what: str) -> str:
        return (f"{what} is too similar to the denied voice {self.name!r} (similarity {self.similarity:.2f}, "
                f"limit {self.threshold:.2f}; {self.reason}): refused")


class Library:
    """One library file. ``write=False`` opens it read-only (a dub never changes it).
    ``deny_lists``: other library files whose deny lists apply here too (read as each check is
    made, so an entry added meanwhile counts; a file that does not exist denies nothing)."""

    def __init__(self, path: str | Path | None = None, write: bool = False,
                 deny_lists: tuple[str | Path, ...] | list[str | Path] = ()):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.write = write
        self.deny_lists = tuple(Path(p) for p in deny_lists if p is not None)
        if not write and not self.path.exists():
            raise DubError.at(self.path, None, "library",
                              "no voice library here; add voices with 'indextts-dub voices add NAME clip.wav "
                              "--consent ...' (or name one with --library)")
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(self.path), timeout=30)
                self.db.executescript(_SCHEMA)
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self.db.commit()
            else:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DubError.at(self.path, None, "library", f"not a voice library ({exc})") from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise DubError.at(self.path, None, "library",
                              f"voice library schema {row[0] if row else '?'} is newer than this version reads")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ embeddings

    def _embedding(self, clip_hash: str) -> np.ndarray:
        row = self.db.execute("SELECT vector FROM embeddings WHERE clip_hash=? AND model=?",
                              (clip_hash, embedding.MODEL_ID)).fetchone()
        if row is not None:
            return embedding.from_blob(row[0])
        clip = self.clip(clip_hash)
        v = embedding.embed(clip.audio, clip.sample_rate)
        if self.write:
            self.db.execute("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                            (clip_hash, embedding.MODEL_ID, embedding.to_blob(v)))
            self.db.commit()
        return v

    def clip(self, clip_hash: str) -> refclip.RefClip:
        row = self.db.execute("SELECT wav, original_name FROM clips WHERE hash=?", (clip_hash,)).fetchone()
        if row is None:
            raise DubError.at(self.path, None, "clips", f"clip {clip_hash[:12]} is missing from the library")
        return refclip.clip_from_wav_bytes(row[0], row[1] or clip_hash[:12])

    def clip_file(self, clip_hash: str, folder: str | Path | None = None) -> Path:
        """The stored clip as a WAV file (for engines that read paths), named by its hash."""
        path = Path(folder) / f"{clip_hash}.wav" if folder is not None else refclip.cached_file(clip_hash)
        if not path.exists():
            row = self.db.execute("SELECT wav FROM clips WHERE hash=?", (clip_hash,)).fetchone()
            if row is None:
                raise DubError.at(self.path, None, "clips", f"clip {clip_hash[:12]} is missing from the library")
            fsio.write_bytes(path, row[0])
        return path

    # ------------------------------------------------------------ deny list

    def denied(self, own: bool = False) -> list[DeniedVoice]:
        """The denied voices: this file's and (unless ``own``) those of its ``deny_lists``."""
        rows = self.db.execute("SELECT name, clip_hash, model, vector, threshold, reason, added_at FROM denied "
                               "ORDER BY name").fetchall()
        out = []
        for name, h, model, vec, thr, reason, added in rows:
            if model != embedding.MODEL_ID:
                continue      # made by another embedding model: cannot be compared
            out.append(DeniedVoice(name, h, float(thr), reason, added, embedding.from_blob(vec)))
        if not own:
            for other in self.deny_lists:
                if other.resolve() != self.path.resolve():
                    out += read_denied(other)
        return out

    def check_denied(self, emb: np.ndarray) -> DenyMatch | None:
        """The denied voice this embedding is too close to (the closest such), if any."""
        return closest_denied(emb, self.denied())

    def deny(self, name: str, clip_path: str | Path, reason: str, threshold: float = DENY_THRESHOLD) -> DeniedVoice:
        self._need_write()
        name = _check_name(name)
        if not reason or not reason.strip():
            raise DubError.at(None, None, "--reason", "say why this voice is denied (e.g. 'public figure')")
        if not 0 < threshold <= 1:
            raise DubError.at(None, None, "--threshold", f"must be in (0, 1], got {threshold}")
        clip = _read(clip_path)
        v = embedding.embed(clip.audio, clip.sample_rate)
        now = _now()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO denied VALUES (?,?,?,?,?,?,?)",
                            (name, clip.hash, embedding.MODEL_ID, embedding.to_blob(v), float(threshold),
                             reason.strip(), now))
        return DeniedVoice(name, clip.hash, threshold, reason.strip(), now, v)

    def undeny(self, name: str) -> bool:
        self._need_write()
        with self.db:
            return self.db.execute("DELETE FROM denied WHERE name=?", (name,)).rowcount > 0

    # ------------------------------------------------------------ voices

    def add(self, name: str, clip_path: str | Path, consent: Consent, replace: bool = False) -> VoiceEntry:
        """Check the clip, refuse denied voices, store clip, consent and embedding."""
        self._need_write()
        name = _check_name(name)
        check_consent(consent)
        existing = self.get(name)
        if existing is not None and not replace:
            raise DubError.at(self.path, None, "NAME",
                              f"a voice named {existing.name!r} is already in the library; "
                              "remove it first or pass --replace")
        clip = _read(clip_path)
        v = embedding.embed(clip.audio, clip.sample_rate)
        match = self.check_denied(v)
        if match is not None:
            raise DubError.at(clip_path, None, "clip", match.message(f"the voice in {Path(clip_path).name}"))
        now = _now()
        try:
            self._store(name, clip_path, clip, v, consent, now, existing is not None)
        except sqlite3.IntegrityError:
            raise DubError.at(self.path, None, "NAME", f"a voice named {name!r} was added to the library meanwhile "
                              "(by another indextts-dub); remove it first or pass --replace") from None
        except sqlite3.OperationalError as exc:
            raise DubError.at(self.path, None, "library", f"cannot write the voice library ({exc})") from None
        entry = self.get(name)
        assert entry is not None
        return entry

    def _store(self, name, clip_path, clip, v, consent: Consent, now: str, replace: bool) -> None:
        with self.db:
            if replace:
                self.db.execute("DELETE FROM voices WHERE name=?", (name,))
            self.db.execute("INSERT OR IGNORE INTO clips VALUES (?,?,?,?,?,?,?,?,?)",
                            (clip.hash, clip.wav_bytes(), clip.sample_rate, int(clip.audio.size),
                             Path(clip_path).name, clip.original_rate, clip.channels, clip.peak_db, now))
            self.db.execute("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                            (clip.hash, embedding.MODEL_ID, embedding.to_blob(v)))
            self.db.execute("INSERT INTO voices VALUES (?,?,?,?,?,?,?,?)",
                            (name, clip.hash, consent.who.strip(), consent.when.strip(), consent.purpose.strip(),
                             consent.statement.strip(), now, None))
            self._collect()

    def get(self, name: str) -> VoiceEntry | None:
        row = self.db.execute(
            "SELECT v.name, v.clip_hash, c.samples, c.sample_rate, v.consent_who, v.consent_when, v.consent_for, "
            "v.consent_statement, v.added_at, c.original_name FROM voices v JOIN clips c ON c.hash = v.clip_hash "
            "WHERE v.name=?", (name.strip(),)).fetchone()
        if row is None:
            return None
        n, h, samples, sr, who, when, purpose, statement, added, orig = row
        return VoiceEntry(n, h, samples / sr, sr, Consent(who, when, purpose, statement), added, orig or "",
                          self._embedding(h))

    def voice_of_clip(self, clip_hash: str) -> str | None:
        """The name of a voice whose clip this is (its consent is on record), if any."""
        row = self.db.execute("SELECT name FROM voices WHERE clip_hash=? ORDER BY name LIMIT 1",
                              (clip_hash,)).fetchone()
        return row[0] if row else None

    def names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM voices ORDER BY name COLLATE NOCASE")]

    def entries(self) -> list[VoiceEntry]:
        return [e for e in (self.get(n) for n in self.names()) if e is not None]

    def remove(self, name: str) -> bool:
        self._need_write()
        with self.db:
            gone = self.db.execute("DELETE FROM voices WHERE name=?", (name.strip(),)).rowcount > 0
            self._collect()
        return gone

    def _collect(self) -> None:
        """Forget clips no voice uses any more, with their embeddings and conditioning."""
        self.db.execute("DELETE FROM clips WHERE hash NOT IN (SELECT clip_hash FROM voices)")
        self.db.execute("DELETE FROM embeddings WHERE clip_hash NOT IN (SELECT hash FROM clips)")
        self.db.execute("DELETE FROM conditioning WHERE clip_hash NOT IN (SELECT hash FROM clips)")

    # ------------------------------------------------------------ engine conditioning cache

    def conditioning(self, engine: str, engine_version: str, clip_hash: str, kind: str = "speaker") -> bytes | None:
        row = self.db.execute("SELECT data FROM conditioning WHERE engine=? AND engine_version=? AND clip_hash=? "
                              "AND kind=?", (engine, engine_version, clip_hash, kind)).fetchone()
        return row[0] if row else None

    def store_conditioning(self, engine: str, engine_version: str, clip_hash: str, data: bytes,
                           kind: str = "speaker") -> None:
        """Keep an engine's conditioning for a stored clip (IndexTTS2: speaker latents)."""
        self._need_write()
        if self.db.execute("SELECT 1 FROM clips WHERE hash=?", (clip_hash,)).fetchone() is None:
            raise DubError.at(self.path, None, "conditioning", f"clip {clip_hash[:12]} is not in the library")
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO conditioning VALUES (?,?,?,?,?,?)",
                            (engine, engine_version, clip_hash, kind, sqlite3.Binary(data), _now()))

    def conditioning_kinds(self, clip_hash: str) -> list[tuple[str, str, str, int]]:
        return [(e, v, k, n) for e, v, k, n in self.db.execute(
            "SELECT engine, engine_version, kind, length(data) FROM conditioning WHERE clip_hash=? ORDER BY engine",
            (clip_hash,))]

    def _need_write(self) -> None:
        if not self.write:
            raise DubError.at(self.path, None, "library", "opened read-only")


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80 or any(c in name for c in "\n\r\t"):
        raise DubError.at(None, None, "NAME", f"{name!r} is not a usable voice name (1-80 characters, one line)")
    return name


def _read(clip_path: str | Path) -> refclip.RefClip:
    try:
        return refclip.read_clip(clip_path, refclip.VOICE_SECONDS, "voice clip")
    except refclip.ClipError as exc:
        raise DubError.at(clip_path, None, "clip", str(exc)) from None
