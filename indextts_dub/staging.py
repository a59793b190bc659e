"""Outputs appear whole or not at all, and one run at a time writes a project.

Everything a run writes goes into a hidden staging folder inside the output folder;
only when every file is complete are they renamed into place (a folder such as
``clips/`` replaces the previous one as a whole). A failed run removes its staging
folder, and the output folder too when the run created it, leaving earlier outputs intact.

A run holds an exclusive lock on ``<out>/.indextts-dub.lock`` (``flock``, released by the
kernel if the process dies, so a ``kill -9`` never leaves a stale lock). A second run on
the same folder waits for it (``wait=True``) or stops with a message naming the holder.
Staging folders left by a killed run are removed by the next run that takes the lock.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

from .errors import DubError

PREFIX = ".indextts-dub-staging-"
LOCK = ".indextts-dub.lock"


class Staging:
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
            for stale in self.out.glob(PREFIX + "*"):      # left by a run that was killed
                shutil.rmtree(stale, ignore_errors=True)
            self.dir = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.out))
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
        trash = Path(tempfile.mkdtemp(prefix=PREFIX + "old-", dir=self.out))
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
