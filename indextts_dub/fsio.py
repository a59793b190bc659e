"""Files appear whole or not at all: the one place that writes them, and the user's folders.

* :func:`atomic_write` opens a temporary file beside the target; when the block ends without an
  error it is flushed, fsynced and renamed over the target, otherwise removed.
* :func:`atomic_path` is the same for tools that write a file by name (ffmpeg, soundfile,
  Pillow, zipfile): it yields the temporary path, keeping the target's suffix.
* :func:`cache_dir` and :func:`data_dir` are the user's folders (``~/.cache/indextts-dub`` and
  ``~/.local/share/indextts-dub`` on Linux), made on demand.
* :class:`Staging` is a run's output folder: everything is written into a hidden staging folder
  and renamed into place when the run succeeds, under a lock that admits one run at a time.

Temporary names start with a dot and contain ``.tmp`` (:data:`TEMP_GLOB`), so a folder's
upkeep can find those a killed writer left.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

from .errors import DubError

APP = "indextts-dub"
TEMP_GLOB = ".*.tmp*"                       # what temporary_name() makes
STAGING_PREFIX = ".indextts-dub-staging-"
LOCK = ".indextts-dub.lock"


def temporary_name(path: Path, keep_suffix: bool = False) -> Path:
    """A hidden name beside ``path``, unique to this process and moment (ending ``.tmp``, or with
    ``keep_suffix`` ``.tmp`` and the target's suffix, for tools that pick a format by it)."""
    stem = path.stem if keep_suffix else path.name
    return path.with_name(f".{stem}.{os.getpid()}-{time.monotonic_ns()}.tmp{path.suffix if keep_suffix else ''}")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = True) -> Iterator[Path]:
    """A temporary path to write ``path`` through (parent folders are made; the suffix is kept
    unless told otherwise); fsynced and renamed into place when the block ends without an error,
    removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path, keep_suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """``open(path, mode)`` that appears whole or not at all (see :func:`atomic_path`)."""
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with atomic_path(path, keep_suffix=False) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_write(path) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


def touch(path: str | Path) -> Path:
    """An empty file at ``path`` (made atomically; an existing one is kept)."""
    path = Path(path)
    if not path.exists():
        write_bytes(path, b"")
    return path


def remove_stale(folder: Path, pattern: str = TEMP_GLOB, older_than_s: float = 3600) -> int:
    """Remove temporary files matching ``pattern`` below ``folder`` that a writer killed long ago left."""
    n = 0
    for stale in folder.glob(pattern) if folder.exists() else []:
        try:
            if time.time() - stale.stat().st_mtime > older_than_s:
                stale.unlink()
                n += 1
        except OSError:
            continue
    return n


def cache_dir(*parts: str) -> Path:
    """The user's cache folder for this tool (or a folder inside it), made if missing."""
    import platformdirs

    folder = Path(platformdirs.user_cache_dir(APP)).joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def data_dir() -> Path:
    """The user's data folder for this tool (not made: reading it must not create it)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


# ---------------------------------------------------------------- a run's output folder

class Staging:
    """Outputs appear whole or not at all, and one run at a time writes a project.

    Everything a run writes goes into a hidden staging folder inside the output folder; only when
    every file is complete are they renamed into place (a folder such as ``clips/`` replaces the
    previous one as a whole). A failed run removes its staging folder, and the output folder too
    when the run created it, leaving earlier outputs intact.

    A run holds an exclusive lock on ``<out>/.indextts-dub.lock`` (``flock``, released by the
    kernel if the process dies, so a ``kill -9`` never leaves a stale lock). A second run on the
    same folder waits for it (``wait=True``) or stops with a message naming the holder. Staging
    folders left by a killed run are removed by the next run that takes the lock.
    """

    def __init__(self, out: str | Path, field: str = "--output", wait: bool = False):
        self.out = Path(out)
        self.created_out = False
        self._lock_fd: int | None = None
        if self.out.exists() and not self.out.is_dir():
            raise DubError.at(self.out, None, field, "exists and is not a folder")
        try:
            if not self.out.exists():
                self.out.mkdir(parents=True)
                self.created_out = True
            self._lock(field, wait)
            for stale in self.out.glob(STAGING_PREFIX + "*"):      # left by a run that was killed
                shutil.rmtree(stale, ignore_errors=True)
            self.dir = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        except OSError as exc:
            self._unlock()
            raise DubError.at(self.out, None, field, f"cannot write the output folder: {exc.strerror or exc}") from None
        except BaseException:
            self._unlock()
            raise

    def _lock(self, field: str, wait: bool) -> None:
        fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DubError.at(self.out, None, field, f"another indextts-dub run ({holder}) is writing this folder; "
                              "wait for it to finish or pass --wait") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.ftruncate(self._lock_fd, 0)
            except OSError:
                pass
            os.close(self._lock_fd)      # closing releases the flock
            self._lock_fd = None

    def path(self, relative: str) -> Path:
        """Where to write ``relative`` now (inside staging); parent folders are made."""
        p = self.dir / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def final(self, relative: str) -> Path:
        """Where ``relative`` will be once the run succeeds."""
        return self.out / relative

    def commit(self) -> list[Path]:
        placed = []
        trash = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX + "old-", dir=self.out))
        try:
            for entry in sorted(self.dir.iterdir()):
                target = self.out / entry.name
                if target.is_dir() and not target.is_symlink():
                    os.replace(target, trash / entry.name)
                os.replace(entry, target)
                placed.append(target)
            _fsync_dir(self.out)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            self._unlock()
        return placed

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.created_out:
            try:
                (self.out / LOCK).unlink()
                self.out.rmdir()
            except OSError:
                pass
        self._unlock()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
