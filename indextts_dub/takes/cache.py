"""The take cache: every take an engine speaks, stored by what it is made of.

A take's key is a hash of everything that changes its audio: the engine's name, version
and model checksum, the request (voice, language, normalised text, speed, emotion, seed,
engine options) and this module's own format version (trimming and resampling). A re-run
speaks only lines whose key changed.

Layout: ``<root>/<content>/<speed>.take``, where ``<content>`` hashes everything but the
speed, so the takes of one line at several speeds sit together; an empty
``<speed>.chosen`` beside a take says a finished speed solve chose it, and for what length
(a timing-only edit re-uses a chosen take within the engine's tolerance).
``<speed>-<samples>.stretch`` beside a take holds it stretched to that many samples by the fit
stage (the pitch-preserving stretch is the costliest step after the engine: a re-run re-fits
a line without redoing it). ``speed-model.json`` holds what the takes taught about each voice's length as a function of the
engine's speed (:meth:`TakeCache.speed_shares`). Each file is one record: magic, sample
count, SHA-256 of the key (content and speed) and the payload, float32 samples at 48 kHz;
written to a temporary name, fsynced and renamed, so a finished take is durable the moment it
is finished, and a torn or truncated file, or one moved under another key, is detected and
spoken again.

The cache marks its folder when it makes it (``CACHEDIR.TAG``, https://bford.info/cachedir/,
which backup tools also honour); ``prune`` and ``clear`` refuse a folder without the mark and
remove only the files the cache writes (takes, their ``.chosen`` marks, stretched takes,
temporary files and ``speed-model.json``). A cache an older version made (no mark, records whose digest covers only
the samples) is migrated when it holds nothing else: each intact take rewritten with the key in
its digest, a damaged one removed, the folder marked (:meth:`TakeCache.migrate`). Reading touches the file's mtime; ``prune`` evicts the least
recently used files beyond a size limit. Concurrent writers are safe: the same key always
holds the same bytes and renames are atomic.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import math
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import fsio
from ..errors import DubError

FORMAT = 1                      # bump when trimming/resampling change what a take holds
MAGIC = b"IDTAKE02"             # 02: the digest covers the key
OLD_MAGIC = b"IDTAKE01"         # before the mark: the digest covers the samples only
HEADER = struct.Struct("<8sQ32s")
DEFAULT_LIMIT = 2 * 1024 ** 3    # bytes
DIRNAME = ".indextts-dub-cache"
SPEED_MODEL = "speed-model.json"
STRETCH_SUFFIX = ".stretch"
SPEED_MODEL_KEEP = 64            # observations kept per engine, voice and language
TAG = "CACHEDIR.TAG"
TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
TAG_TEXT = (f"{TAG_SIGNATURE}\n# This file is a cache directory tag created by indextts-dub (its take cache).\n"
            "# For information about cache directory tags, see https://bford.info/cachedir/\n")


def _canonical(value: Any) -> Any:
    if value is None or type(value) in (str, int, bool):
        return value
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

    def __init__(self, root: str | Path, limit_bytes: int = DEFAULT_LIMIT, field: str = "--cache"):
        self.root = Path(root)
        self.limit = limit_bytes
        self.field = field              # where the folder came from, for messages
        self.damaged = 0                # entries found torn or truncated (and spoken again) this run
        self.notes: list[str] = []      # what opening the folder did (an older cache migrated)

    # ------------------------------------------------------------------ the folder

    def marked(self) -> bool:
        """Whether the folder carries the mark the cache leaves when it makes one."""
        try:
            with open(self.root / TAG, "rb") as fh:
                return fh.read(len(TAG_SIGNATURE)) == TAG_SIGNATURE.encode()
        except OSError:
            return False

    def check(self) -> None:
        """Raises :class:`DubError` unless the folder is missing, empty or a marked cache."""
        if not os.path.lexists(self.root):
            return
        if not self.root.is_dir():
            raise DubError.at(self.root, None, self.field, "exists and is not a folder")
        if self.marked() or self.older_cache() is not None:
            return
        try:      # a concurrent run making the folder may have left only its temporary files so far
            empty = all(fnmatch.fnmatch(e.name, fsio.TEMP_GLOB) or e.name.startswith(".write-test")
                        for e in os.scandir(self.root))
        except OSError as exc:
            raise DubError.at(self.root, None, self.field, f"cannot be read: {exc.strerror or exc}") from None
        if not empty:
            raise DubError.at(self.root, None, self.field,
                              f"is not a take cache made by indextts-dub (it has no {TAG}); give a new or empty "
                              "folder (an older indextts-dub cache without the mark can be deleted: its takes are "
                              "spoken again)")

    def open(self) -> "TakeCache":
        """Make (and mark) the folder if needed and prove it writable, before any engine loads;
        :class:`DubError` naming the folder otherwise."""
        self.check()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not self.marked() and self.older_cache():
                self.migrate()
            if not self.marked():
                fsio.write_text(self.root / TAG, TAG_TEXT)
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise DubError.at(self.root, None, self.field, f"cannot be used as the take cache: "
                              f"{exc.strerror or exc}") from None
        return self

    def older_cache(self) -> list[Path] | None:
        """The takes of a cache an older version made here (no mark; nothing in the folder but
        what a take cache writes: ``xx/<content>/<speed>.take`` and ``.chosen``, ``speed-model.json``,
        temporary files); ``None`` when the folder holds anything else (or is marked, or missing)."""
        if not self.root.is_dir() or self.marked():
            return None
        takes: list[Path] = []
        try:
            for top in os.scandir(self.root):
                if top.name == SPEED_MODEL and top.is_file(follow_symlinks=False) or _temporary(top.name):
                    continue
                if not (_HEX.fullmatch(top.name) and len(top.name) == 2 and top.is_dir(follow_symlinks=False)):
                    return None
                for line in os.scandir(top.path):
                    if _temporary(line.name):
                        continue
                    if not (_HEX.fullmatch(line.name) and line.name[:2] == top.name
                            and line.is_dir(follow_symlinks=False)):
                        return None
                    for f in os.scandir(line.path):
                        if _temporary(f.name):
                            continue
                        if not (_RECORD.fullmatch(f.name) and f.is_file(follow_symlinks=False)):
                            return None
                        if f.name.endswith(".take"):
                            takes.append(Path(f.path))
        except OSError:
            return None
        return sorted(takes)

    def migrate(self) -> tuple[int, int]:
        """Bring a cache an older version made (:meth:`older_cache`) to this layout: each intact
        take rewritten with its key in the digest, each damaged one removed (it is spoken again),
        the folder marked; (takes kept, takes removed). Said in :attr:`notes`."""
        takes = self.older_cache()
        if takes is None:
            return 0, 0
        kept = removed = 0
        for path in takes:
            key = f"{path.parent.name}/{path.stem}".encode()
            try:
                data = path.read_bytes()
            except OSError:
                continue
            audio = _decode(data, key) if data[:8] == MAGIC else _decode_old(data)
            if audio is None:
                path.unlink(missing_ok=True)
                path.with_suffix(".chosen").unlink(missing_ok=True)
                removed += 1
                continue
            if data[:8] != MAGIC:
                payload = np.ascontiguousarray(audio, dtype="<f4").tobytes()
                with fsio.atomic_write(path) as fh:
                    fh.write(HEADER.pack(MAGIC, audio.size, _digest(key, payload)))
                    fh.write(payload)
            kept += 1
        fsio.write_text(self.root / TAG, TAG_TEXT)
        self.notes.append(f"{self.root}: a take cache an older indextts-dub made, migrated: {kept} takes kept"
                          + (f", {removed} damaged removed (spoken again)" if removed else ""))
        return kept, removed

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

    def has(self, content: str, speed: float) -> bool:
        """Whether a take of ``content`` at ``speed`` is stored (not read: it may still be damaged)."""
        return self._path(content, speed).is_file()

    def get(self, content: str, speed: float) -> np.ndarray | None:
        return self._read(self._path(content, speed), _key(content, speed), take=True)

    def _read(self, path: Path, key: bytes, samples: int | None = None, take: bool = False) -> np.ndarray | None:
        """A stored record's audio under ``key`` (of ``samples`` samples when given), its use
        time touched; a torn, truncated or foreign record is removed (a take's counted as
        damaged: it is spoken again) and None returned. An older version's take in a cache not
        migrated yet (a dry run) is read as it is."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        audio = _decode(data, key)
        if audio is not None and samples is not None and audio.size != samples:
            audio = None
        if audio is None and take and not self.marked():
            return _decode_old(data)
        if audio is None:
            self.damaged += take
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
        return self._write(self._path(content, speed), _key(content, speed), audio)

    def _write(self, path: Path, key: bytes, audio: np.ndarray) -> Path:
        payload = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        with fsio.atomic_write(path) as fh:
            fh.write(HEADER.pack(MAGIC, audio.size, _digest(key, payload)))
            fh.write(payload)
        return path

    # ------------------------------------------------------------------ stretched takes

    def _stretch_path(self, content: str, speed: float, samples: int) -> Path:
        return self.root / content[:2] / content / f"{speed_name(speed)}-{int(samples)}{STRETCH_SUFFIX}"

    def stretched(self, content: str, speed: float, samples: int, method: str) -> np.ndarray | None:
        """The take at ``speed`` stretched to ``samples`` by ``method`` (a name of the stretcher and
        its version), if stored; a damaged or foreign record is removed and None returned."""
        return self._read(self._stretch_path(content, speed, samples),
                          _stretch_key(content, speed, samples, method), samples)

    def put_stretched(self, content: str, speed: float, method: str, audio: np.ndarray) -> None:
        """Store a stretched take (see :meth:`stretched`); a cache that cannot be written only
        costs the stretch again next time."""
        try:
            self._write(self._stretch_path(content, speed, audio.size),
                        _stretch_key(content, speed, audio.size, method), audio)
        except OSError:
            pass

    # ------------------------------------------------------------------ upkeep

    def _files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for p in self.root.glob("*/*/*.take")]

    def _stretch_files(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [p for p in self.root.glob(f"*/*/*{STRETCH_SUFFIX}")]

    def info(self) -> CacheInfo:
        files = self._files()
        stats = [p.stat() for p in files]
        extra = [p.stat().st_size for p in self._stretch_files()]
        return CacheInfo(self.root, len(files), len({p.parent.name for p in files}),
                         sum(s.st_size for s in stats) + sum(extra),
                         min((s.st_mtime for s in stats), default=None), max((s.st_mtime for s in stats), default=None))

    def prune(self, limit_bytes: int | None = None) -> tuple[int, int]:
        """Evict least recently used takes until the cache fits ``limit_bytes``; (files, bytes) removed."""
        if not self._upkeep():
            return 0, 0
        limit = self.limit if limit_bytes is None else limit_bytes
        entries = []
        for p in [*self._files(), *self._stretch_files()]:
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
                if p.suffix == ".take":
                    p.with_suffix(".chosen").unlink(missing_ok=True)
            except OSError:
                continue
            total -= size
            removed += p.suffix == ".take"
            freed += size
            for d in (p.parent, p.parent.parent):
                try:
                    d.rmdir()
                except OSError:
                    pass
        fsio.remove_stale(self.root, "*/*/" + fsio.TEMP_GLOB)       # left by writers killed long ago
        return removed, freed

    def _upkeep(self) -> bool:
        """Whether there is a cache to trim; :class:`DubError` for a folder the cache did not mark."""
        if not os.path.lexists(self.root):
            return False
        if not self.marked() and self.older_cache() is not None:
            self.migrate()
        if not self.root.is_dir() or not self.marked():
            raise DubError.at(self.root, None, self.field,
                              f"is not a take cache made by indextts-dub (it has no {TAG}); nothing was removed")
        return True

    def clear(self) -> int:
        """Remove every take (and only what the cache wrote); the number of takes removed."""
        if not self._upkeep():
            return 0
        n = 0
        for folder in sorted(p for p in self.root.glob("*/*") if p.is_dir() and not p.is_symlink()):
            for f in [*folder.glob("*.take"), *folder.glob("*.chosen"), *folder.glob(f"*{STRETCH_SUFFIX}"),
                      *folder.glob(fsio.TEMP_GLOB)]:
                try:
                    f.unlink()
                    n += f.suffix == ".take"
                except OSError:
                    continue
            for d in (folder, folder.parent):
                try:
                    d.rmdir()
                except OSError:
                    pass
        try:
            (self.root / SPEED_MODEL).unlink()
        except OSError:
            pass
        return n


_HEX = re.compile(r"[0-9a-f]+")
_RECORD = re.compile(r"\d+\.\d{4}\.(take|chosen)")


def _temporary(name: str) -> bool:
    return fnmatch.fnmatch(name, fsio.TEMP_GLOB) or name.startswith(".write-test")


def _decode_old(data: bytes) -> np.ndarray | None:
    """The samples of an older version's record (:data:`OLD_MAGIC`: the digest covers the samples only)."""
    if len(data) < HEADER.size:
        return None
    magic, n, digest = HEADER.unpack_from(data)
    payload = data[HEADER.size:]
    if magic != OLD_MAGIC or len(payload) != 4 * n or hashlib.sha256(payload).digest() != digest:
        return None
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)


def _key(content: str, speed: float) -> bytes:
    return f"{content}/{speed_name(speed)}".encode()


def _stretch_key(content: str, speed: float, samples: int, method: str) -> bytes:
    return f"{content}/{speed_name(speed)}/{int(samples)}/{method}".encode()


def _digest(key: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(HEADER.size.to_bytes(4, "little") + key + b"\0" + payload).digest()


def _decode(data: bytes, key: bytes) -> np.ndarray | None:
    """The samples of a record stored under ``key``; None when torn, truncated, foreign or moved."""
    if len(data) < HEADER.size:
        return None
    magic, n, digest = HEADER.unpack_from(data)
    payload = data[HEADER.size:]
    if magic != MAGIC or len(payload) != 4 * n or _digest(key, payload) != digest:
        return None
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)
