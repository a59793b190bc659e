"""The take cache: every take an engine speaks, stored by what it is made of.

A take's key is a hash of everything that changes its audio: the engine's name, version
and model checksum, the request (voice, language, normalised text, speed, emotion, seed,
engine options) and this module's own format version (trimming and resampling). A re-run
speaks only lines whose key changed.

Layout: ``<root>/<content>/<speed>.take``, where ``<content>`` hashes everything but the
speed, so the takes of one line at several speeds sit together; an empty
``<speed>.chosen`` beside a take says a finished speed solve chose it, and for what length
(a timing-only edit re-uses a chosen take within the engine's tolerance).
``speed-model.json`` holds what the takes taught about each voice's length as a function of the
engine's speed (:meth:`TakeCache.speed_shares`). Each file is one record: magic, sample count, SHA-256 of the
payload, float32 samples at 48 kHz; written to a temporary name, fsynced and renamed, so a
finished take is durable the moment it is finished and a torn or truncated file is
detected and spoken again. Reading touches the file's mtime; ``prune`` evicts the least
recently used files beyond a size limit. Concurrent writers are safe: the same key always
holds the same bytes and renames are atomic.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import fsio

FORMAT = 1                      # bump when trimming/resampling change what a take holds
MAGIC = b"IDTAKE01"
HEADER = struct.Struct("<8sQ32s")
DEFAULT_LIMIT = 2 * 1024 ** 3    # bytes
DIRNAME = ".indextts-dub-cache"
SPEED_MODEL = "speed-model.json"
SPEED_MODEL_KEEP = 64            # observations kept per engine, voice and language


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return [_canonical(v) for v in value.tolist()]
    return str(value)


def content_key(engine: dict[str, Any], made_of: dict[str, Any]) -> str:
    """Hash of what a take is made of, apart from its speed: ``engine`` (name, version, model) and
    ``made_of`` (text, voice, language, emotion key, reference hash, seed).

    The hashed document's layout is frozen with :data:`FORMAT`: the fields below with fixed
    values stand where request fields stood when it was written, so takes stored by earlier
    versions are found again. Changing it re-speaks every cached take."""
    req = _canonical({"target_samples": None, "reference": None, "options": {}, **made_of})
    doc = {"format": FORMAT, "engine": _canonical(engine), "request": req}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]


def speed_name(speed: float) -> str:
    return f"{speed:.4f}"


@dataclass
class CacheInfo:
    root: Path
    files: int
    lines: int
    bytes: int
    oldest: float | None
    newest: float | None


class TakeCache:
    """Content-addressed takes on disk (see the module docstring)."""

    def __init__(self, root: str | Path, limit_bytes: int = DEFAULT_LIMIT):
        self.root = Path(root)
        self.limit = limit_bytes
        self.damaged = 0                # entries found torn or truncated (and spoken again) this run

    # ------------------------------------------------------------------ records

    def _path(self, content: str, speed: float) -> Path:
        return self.root / content[:2] / content / f"{speed_name(speed)}.take"

    def chosen(self, content: str) -> list[float]:
        """Speeds whose stored takes a finished speed solve chose (see ``Synthesizer.at_target``)."""
        folder = self.root / content[:2] / content
        try:
            names = set(os.listdir(folder))
        except OSError:
            return []
        out = []
        for n in names:
            if n.endswith(".chosen") and n[:-7] + ".take" in names:
                try:
                    out.append(float(n[:-7]))
                except ValueError:
                    pass
        return sorted(out)

    def mark_chosen(self, content: str, speed: float, target: int | None = None) -> None:
        """Mark the take at ``speed`` chosen (for a line of ``target`` samples, when given)."""
        path = self._path(content, speed).with_suffix(".chosen")
        if target is None:
            fsio.touch(path)
        elif self.chosen_for(content, speed) != int(target):
            fsio.write_text(path, str(int(target)))

    def chosen_for(self, content: str, speed: float) -> int | None:
        """The target length the take at ``speed`` was chosen for, if its marker says."""
        try:
            return int(self._path(content, speed).with_suffix(".chosen").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ the speed model

    def speed_shares(self) -> dict[str, list[float]]:
        """Observed fixed shares of the engines' length (see ``Synthesizer.share``), by
        engine, voice and language: ``<root>/speed-model.json``."""
        try:
            data = json.loads((self.root / SPEED_MODEL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        out: dict[str, list[float]] = {}
        for key, values in data.items():
            if isinstance(values, list):
                out[str(key)] = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        return out

    def add_speed_shares(self, observed: dict[str, list[float]], keep: int = SPEED_MODEL_KEEP) -> None:
        """Add a run's observations (the newest ``keep`` per key are kept)."""
        if not any(observed.values()):
            return
        model = self.speed_shares()
        for key, values in observed.items():
            model[key] = (model.get(key, []) + [round(float(v), 5) for v in values])[-keep:]
        try:
            fsio.write_text(self.root / SPEED_MODEL, json.dumps(model, sort_keys=True, ensure_ascii=False))
        except OSError:
            pass                        # a model that cannot be written only costs accuracy

    def get(self, content: str, speed: float) -> np.ndarray | None:
        path = self._path(content, speed)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        audio = _decode(data)
        if audio is None:                   # torn, truncated or foreign: speak it again
            self.damaged += 1
            try:
                path.unlink()
            except OSError:
                pass
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return audio

    def put(self, content: str, speed: float, audio: np.ndarray) -> Path:
        path = self._path(content, speed)
        payload = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        with fsio.atomic_write(path) as fh:
            fh.write(HEADER.pack(MAGIC, audio.size, hashlib.sha256(payload).digest()))
            fh.write(payload)
        return path

    # ------------------------------------------------------------------ upkeep

    def _files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for p in self.root.glob("*/*/*.take")]

    def info(self) -> CacheInfo:
        files = self._files()
        stats = [p.stat() for p in files]
        return CacheInfo(self.root, len(files), len({p.parent.name for p in files}), sum(s.st_size for s in stats),
                         min((s.st_mtime for s in stats), default=None), max((s.st_mtime for s in stats), default=None))

    def prune(self, limit_bytes: int | None = None) -> tuple[int, int]:
        """Evict least recently used takes until the cache fits ``limit_bytes``; (files, bytes) removed."""
        limit = self.limit if limit_bytes is None else limit_bytes
        entries = []
        for p in self._files():
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, p.name, p, st.st_size))
        total = sum(e[3] for e in entries)
        removed = freed = 0
        for _, _, p, size in sorted(entries):
            if total <= limit:
                break
            try:
                p.unlink()
                p.with_suffix(".chosen").unlink(missing_ok=True)
            except OSError:
                continue
            total -= size
            removed += 1
            freed += size
            try:
                p.parent.rmdir()
            except OSError:
                pass
        fsio.remove_stale(self.root, "*/*/" + fsio.TEMP_GLOB)       # left by writers killed long ago
        return removed, freed

    def clear(self) -> int:
        n = len(self._files())
        if self.root.exists():
            shutil.rmtree(self.root)
        return n


def _decode(data: bytes) -> np.ndarray | None:
    if len(data) < HEADER.size:
        return None
    magic, n, digest = HEADER.unpack_from(data)
    payload = data[HEADER.size:]
    if magic != MAGIC or len(payload) != 4 * n or hashlib.sha256(payload).digest() != digest:
        return None
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)
