"""Outputs appear whole or not at all.

Everything a run writes goes into a hidden staging folder inside the output folder;
only when every file is complete are they renamed into place (a folder such as
``clips/`` replaces the previous one as a whole). A failed run removes its staging
folder, and the output folder too when the run created it, leaving earlier outputs intact.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import DubError

PREFIX = ".indextts-dub-staging-"


class Staging:
    def __init__(self, out: str | Path, field: str = "--output"):
        self.out = Path(out)
        self.created_out = False
        if self.out.exists() and not self.out.is_dir():
            raise DubError.at(self.out, None, field, "exists and is not a folder")
        try:
            if not self.out.exists():
                self.out.mkdir(parents=True)
                self.created_out = True
            self.dir = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.out))
        except OSError as exc:
            raise DubError.at(self.out, None, field, f"cannot write the output folder: {exc.strerror or exc}") from None

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
        return placed

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.created_out:
            try:
                self.out.rmdir()
            except OSError:
                pass


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
