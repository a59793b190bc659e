"""Engine conditioning kept on disk by clip *content*: the voice library's ``conditioning``
table, and a cache file with the same table for clips that are not in a library.

An engine such as IndexTTS2 computes, per reference clip, features it reuses for every line
of that voice (speaker latents, style, prompt mel). They are keyed by
``(engine, engine version, clip hash, kind)``: the clip hash is the SHA-256 of the clip's
normalised samples (:func:`.refclip.content_hash`), never its path, so alternating voices
never recompute and a file replaced at the same path never gives stale results; the engine
version holds the model's checksum, so other weights never read them either.

Reads look in the library first, then the cache file. Writes go to the library when the clip
is one of its voices and the file is writable (a dub never changes voices, clips or consent,
only this cache table), otherwise to the cache file
(``~/.cache/indextts-dub/conditioning.sqlite`` unless given). A store that cannot be written
only costs time: errors are counted, never raised.

A process in a pool (a service worker) has a shared layer (:mod:`indextts_dub.sharedcache`,
the service's Redis): it is read first, and gets whatever is computed here or found only in a
file, so a voice's conditioning computed on one worker is reused on every other.
"""
from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from pathlib import Path

from .. import fsio, sharedcache

_TABLE = """
CREATE TABLE IF NOT EXISTS conditioning (
    engine TEXT NOT NULL, engine_version TEXT NOT NULL, clip_hash TEXT NOT NULL, kind TEXT NOT NULL,
    data BLOB NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (engine, engine_version, clip_hash, kind));
"""


def default_cache() -> Path:
    return fsio.cache_dir() / "conditioning.sqlite"


class ConditioningStore:
    """Conditioning blobs by clip content (see the module docstring)."""

    def __init__(self, library: str | Path | None = None, cache: str | Path | None = None):
        self.library = Path(library).expanduser() if library else None
        self.cache = Path(cache).expanduser() if cache else default_cache()

    def _read(self, path: Path, engine: str, version: str, clip_hash: str, kind: str) -> bytes | None:
        if not path.is_file():
            return None
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            try:
                row = db.execute("SELECT data FROM conditioning WHERE engine=? AND engine_version=? AND clip_hash=? "
                                 "AND kind=?", (engine, version, clip_hash, kind)).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return None        # no such table (an old library) or not a database: nothing stored
        return bytes(row[0]) if row else None

    @staticmethod
    def shared_key(engine: str, version: str, clip_hash: str, kind: str) -> str:
        return f"conditioning/{engine}/{version}/{clip_hash}/{kind}"

    def get(self, engine: str, version: str, clip_hash: str, kind: str) -> bytes | None:
        key = self.shared_key(engine, version, clip_hash, kind)
        data = sharedcache.get(key)
        if data is not None:
            return data
        for path in (self.library, self.cache):
            if path is not None:
                data = self._read(path, engine, version, clip_hash, kind)
                if data is not None:
                    sharedcache.put(key, data)         # the pool's other workers find it there
                    return data
        return None

    def where(self, clip_hash: str) -> Path:
        """The file a clip's conditioning is written to."""
        if self.library is not None and self.library.is_file() and os.access(self.library, os.W_OK):
            try:
                db = sqlite3.connect(f"{self.library.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
                try:
                    if db.execute("SELECT 1 FROM clips WHERE hash=?", (clip_hash,)).fetchone():
                        return self.library
                finally:
                    db.close()
            except sqlite3.Error:
                pass
        return self.cache

    def put(self, engine: str, version: str, clip_hash: str, kind: str, data: bytes) -> Path | None:
        sharedcache.put(self.shared_key(engine, version, clip_hash, kind), data)
        path = self.where(clip_hash)
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        try:
            if path != self.library:
                path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=30)
            try:
                with db:
                    db.executescript(_TABLE)
                    db.execute("INSERT OR REPLACE INTO conditioning VALUES (?,?,?,?,?,?)",
                               (engine, version, clip_hash, kind, sqlite3.Binary(data), now))
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return None        # a cache that cannot be written only costs time
        return path
