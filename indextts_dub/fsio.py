"""Files appear whole or not at all: the one place that writes them, and the user's folders.

* :func:`atomic_write` opens a temporary file beside the target; when the block ends without an
  error it is flushed, fsynced and renamed over the target, otherwise removed.
* :func:`atomic_path` is the same for tools that write a file by name (ffmpeg, soundfile,
  Pillow, zipfile): it yields the temporary path, keeping the target's suffix.
* :func:`cache_dir` and :func:`data_dir` are the user's folders (``~/.cache/indextts-dub`` and
  ``~/.local/share/indextts-dub`` on Linux), made on demand.
* :class:`Staging` is a run's output folder: everything is written into a hidden staging folder
  and its files are renamed into place when the run succeeds, under a lock that admits one run
  at a time, through a journal that the next run finishes or rolls back if the commit was cut off;
  a manifest lists what the run owns, so the next run removes what it no longer produces and
  never touches anything else. A folder an older version wrote (outputs, no manifest) is adopted
  when it holds nothing but files named as a run's outputs, and refused when it mixes them with
  other files (:func:`unlisted_outputs`).

Temporary names start with a dot and contain ``.tmp`` (:data:`TEMP_GLOB`), so a folder's
upkeep can find those a killed writer left.
"""
from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, Iterator

from .errors import DubError, SystemFault

APP = "indextts-dub"
TEMP_GLOB = ".*.tmp*"                       # what temporary_name() makes
STAGING_PREFIX = ".indextts-dub-staging-"
LOCK = ".indextts-dub.lock"
MANIFEST = ".indextts-dub-manifest.json"     # the files the last run placed (what it owns)
JOURNAL = ".indextts-dub-journal.json"       # a commit under way


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
    except Exception as exc:
        if disk_full(exc, path.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
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


def mount_point(path: Path) -> Path:
    """The mount point of the file system ``path`` is on (for messages about that disk)."""
    p = Path(os.path.abspath(path))
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
FULL_BYTES = 4 * 1024 ** 2      # a write failed while less than this was free: the disk was full


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc``, raised while writing into ``folder``, comes from a full file system: an
    ``ENOSPC``/``EDQUOT`` error, or any other failure of a writer (libsndfile's "System error.",
    ffmpeg's exit status) while the file system has (almost) nothing free."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return True
    if isinstance(exc, (SystemFault, KeyboardInterrupt)):
        return False
    try:
        return free_bytes(folder) < FULL_BYTES
    except OSError:
        return False


def space_fault(path: Path, needed: int, what: str = "the outputs", then: str = "free some space or choose "
                "another -o") -> SystemFault:
    """"no space left on MOUNT: N MB needed for WHAT in PATH, M MB free; THEN" for ``path``'s file system."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = f", {_mb(free_bytes(folder))} MB free"
    except OSError:
        free = ""
    return SystemFault(f"no space left on {mount_point(folder)}: {_mb(needed)} MB needed for {what} in {path}"
                       f"{free}; {then}")


class NoSpace(SystemFault):
    """A write failed on a full file system (``path``: what was being written, when known); the
    previous outputs are unchanged."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.path = Path(path) if path else None


def _fault(message: str, exc: OSError) -> SystemFault:
    """:class:`NoSpace` when ``exc`` is a full disk, else a plain :class:`SystemFault`."""
    if exc.errno in NO_SPACE:
        return NoSpace(message, exc.filename if isinstance(exc.filename, str) else None)
    return SystemFault(message)


def full_disk_path(exc: BaseException) -> Path | None | bool:
    """What was being written when ``exc`` said the disk is full (``None`` when unknown), or
    ``False`` when ``exc`` is no full disk."""
    if isinstance(exc, NoSpace):
        return exc.path
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return Path(exc.filename) if isinstance(exc.filename, str) and exc.filename else None
    return False


def check_space(path: Path, needed: int, what: str = "the outputs") -> None:
    """Raises :class:`SystemFault` ("no space left on DEVICE: N MB needed") unless the file system
    of ``path`` has ``needed`` bytes free."""
    if free_bytes(path) < needed:
        raise space_fault(path, needed, what)


def _mb(n: int) -> int:
    return -(-n // 1024 ** 2)


# ---------------------------------------------------------------- a run's output folder

class Staging:
    """Outputs appear whole or not at all, one run at a time writes a project, and nothing the
    runs did not make is ever touched.

    Everything a run writes goes into a hidden staging folder inside the output folder. When every
    file is complete, :meth:`commit` moves the files (never whole folders) into place:

    1. it checks what can be checked first (each target and its folders are plain folders and
       files on the output's file system, writable, not immutable or append-only);
    2. it writes a journal (:data:`JOURNAL`): the staging folder, a backup folder, the files to
       place and the files of the previous run (its :data:`MANIFEST`) this run no longer makes;
    3. it moves each previous file it replaces or removes into the backup folder, then each new
       file into place, writes the new manifest and removes the journal and the backup.

    A step that fails rolls everything back (the previous outputs are byte-identical); a commit cut
    off by a crash is finished (or, if it cannot be, rolled back) by the next run that takes the
    lock. A file the user put into the output folder (say ``clips/mine.wav``) is in no manifest and
    is never moved or removed.

    A run holds an exclusive lock on ``<out>/.indextts-dub.lock`` (``flock``, released by the
    kernel if the process dies, so a ``kill -9`` never leaves a stale lock). A second run on the
    same folder waits for it (``wait=True``) or stops with a message naming the holder. A failed
    run that made the output folder removes it again; a waiter that finds its lock file gone takes
    a new one, so two runs never hold the folder at once.
    """

    def __init__(self, out: str | Path, field: str = "--output", wait: bool = False,
                 owns: Callable[[str], bool] | None = None):
        """``owns``: whether a relative path is named as one of a run's outputs; given, a folder
        without a manifest holding only such files is adopted (:attr:`adopted`, said in
        :attr:`notes`), and one that mixes them with other files is refused (:class:`DubError`)."""
        if str(out) == "":
            raise DubError.at(None, None, field, "is empty (give a folder; -o . is the current folder)")
        self.out = Path(out)
        self.field = field
        self.created_out = False
        self._lock_fd: int | None = None
        self.adopted: list[str] = []          # an older version's outputs this run owns (no manifest)
        self.notes: list[str] = []            # what the user should hear about the folder
        if self.out.is_symlink() and not self.out.exists():
            raise DubError.at(self.out, None, field, "is a symbolic link to nothing")
        if self.out.exists() and not self.out.is_dir():
            raise DubError.at(self.out, None, field, "exists and is not a folder")
        try:
            self._lock(field, wait)
            recover(self.out)
            for stale in self.out.glob(STAGING_PREFIX + "*"):      # left by a run that was killed
                shutil.rmtree(stale, ignore_errors=True)
            if owns is not None:
                self._adopt(owns, field)
            self.dir = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        except OSError as exc:
            self._unlock()
            raise DubError.at(self.out, None, field, f"cannot write the output folder: {exc.strerror or exc}") from None
        except BaseException:
            self._unlock()
            raise

    def _adopt(self, owns: Callable[[str], bool], field: str) -> None:
        ours, others = unlisted_outputs(self.out, owns)
        if not ours:
            return
        if others:
            raise DubError.at(self.out, None, field, adoption_problem(ours, others))
        self.adopted = ours
        self.notes.append(adoption_note(self.out, ours))

    def _lock(self, field: str, wait: bool) -> None:
        while True:
            if not self.out.exists():
                self.out.mkdir(parents=True)
                self.created_out = True
            try:
                fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:           # the folder went away meanwhile (a failed first run)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise DubError.at(self.out, None, field, f"another indextts-dub run ({holder}) is writing this folder; "
                                  "wait for it to finish or pass --wait") from None
            try:
                same = os.stat(self.out / LOCK).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)                        # the holder removed the file we waited on: lock anew
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

    def files(self) -> list[str]:
        """The files staged so far, relative to the output folder."""
        return sorted(p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*") if not p.is_dir())

    def commit(self) -> list[Path]:
        """Move the staged files into place (see the class docstring); the top-level outputs placed."""
        try:
            new = self.files()
            previous = read_manifest(self.out) if (self.out / MANIFEST).exists() else self.adopted
            remove = sorted(r for r in set(previous) - set(new) if os.path.lexists(self.out / r))
            check_targets(self.out, self.dir, new, remove, self.field, owned=set(previous))
            backup = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX + "old-", dir=self.out))
            made = sorted({str(d) for r in new for d in _parents(r) if not os.path.lexists(self.out / d)})
            journal = {"staging": self.dir.name, "backup": backup.name, "files": new, "remove": remove, "made": made,
                       "previous": previous if (self.out / MANIFEST).exists() else None}
            try:
                write_text(self.out / JOURNAL, json.dumps(journal, indent=1))
            except OSError as exc:             # nothing moved yet (a full disk, say)
                shutil.rmtree(backup, ignore_errors=True)
                raise _fault(f"writing the commit's journal in {self.out} failed: {_why(exc)}; the previous "
                             "outputs are unchanged", exc) from None
            try:
                _roll_forward(self.out, journal)
            except OSError as exc:
                try:
                    _roll_back(self.out, journal)
                except OSError as again:
                    raise SystemFault(f"placing the outputs in {self.out} failed ({_why(exc)}) and so did putting "
                                      f"the previous ones back ({_why(again)}); the next run finishes the job") from None
                raise _fault(f"placing the outputs in {self.out} failed: {_why(exc)}; "
                             "the previous outputs are unchanged", exc) from None
        except BaseException:
            self.abort()
            raise
        shutil.rmtree(self.dir, ignore_errors=True)
        self._unlock()
        return sorted({self.out / Path(r).parts[0] for r in new})

    def abort(self) -> None:
        """Give up: remove the staging folder (kept while an unfinished journal needs it), the
        output folder when this run made it and it is empty, and release the lock."""
        if self._lock_fd is None:
            return
        if not (self.out / JOURNAL).exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.created_out:
            try:
                (self.out / LOCK).unlink()       # while holding it: a waiter notices and locks anew
                self.out.rmdir()
            except OSError:
                pass
        self._unlock()


def unlisted_outputs(out: Path, owns: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """For a folder without a manifest (an older version's outputs, or the user's own folder):
    the files in it named as a run's outputs (``owns``), and everything else in it (files, links,
    folders a link points to). Hidden entries (a name starting with a dot, at any depth: this
    tool's lock and cache, a desktop's ``.DS_Store``) are neither: never adopted, never in the
    way. Both empty when the folder has a manifest or is not there."""
    if not out.is_dir() or os.path.lexists(out / MANIFEST):
        return [], []
    ours: list[str] = []
    others: list[str] = []
    for root, dirs, files in os.walk(out):
        here = Path(root)
        for d in list(dirs):
            if d.startswith(".") or (here / d).is_symlink():
                dirs.remove(d)
                if not d.startswith("."):
                    others.append((here / d).relative_to(out).as_posix())
        for f in files:
            if f.startswith("."):
                continue
            rel = (here / f).relative_to(out).as_posix()
            plain = (here / f).is_file() and not (here / f).is_symlink()
            (ours if plain and owns(rel) else others).append(rel)
    return sorted(ours), sorted(others)


def _some(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def adoption_note(out: Path, ours: list[str]) -> str:
    return (f"{out}: {len(ours)} files named as outputs and no manifest (an older indextts-dub wrote them: "
            f"{_some(ours)}): adopted as this run's own, so it replaces them or removes those it no longer makes")


def adoption_problem(ours: list[str], others: list[str]) -> str:
    return (f"holds files named as indextts-dub's outputs ({_some(ours)}) and no manifest saying a run placed "
            f"them, beside other files ({_some(others)}): which are yours cannot be told, so nothing is touched; "
            "move the old outputs (or the other files) away, or choose another -o")


def read_manifest(out: Path) -> list[str]:
    """The files the previous run placed in ``out`` (relative paths; none when unreadable)."""
    try:
        doc = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        files = doc["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [f for f in files if isinstance(f, str) and _inside(f)]


def _inside(rel: str) -> bool:
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and not p.parts[0].startswith(".")


def _parents(rel: str) -> list[Path]:
    return list(reversed(Path(rel).parents[:-1])) if len(Path(rel).parts) > 1 else []


FS_IOC_GETFLAGS = 0x80086601
FS_IMMUTABLE_FL, FS_APPEND_FL = 0x10, 0x20


def _frozen(path: Path) -> bool:
    """Whether ``path`` carries the immutable or append-only attribute (where the file system says)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        return bool(flags[0] & (FS_IMMUTABLE_FL | FS_APPEND_FL))
    except OSError:
        return False
    finally:
        os.close(fd)


def check_targets(out: Path, staging: Path, new: list[str], remove: list[str], field: str = "--output",
                  owned: set[str] | None = None) -> None:
    """Everything the commit will rename can be renamed: raises :class:`DubError` naming the first
    path that cannot (a symbolic link or a file where a folder goes, a folder where a file goes,
    another file system, no write permission, an immutable or append-only attribute, or, given
    ``owned``, a file there that no earlier run placed: the user's, never replaced)."""
    device = os.stat(staging).st_dev
    seen: set[Path] = set()

    def refuse(path: Path, why: str) -> None:
        raise DubError.at(path, None, field, f"{why}; the run placed nothing (move it away or choose another -o)")

    for rel in [*new, *remove]:
        folder = out
        for part in [*_parents(rel), None]:
            if folder not in seen:
                seen.add(folder)
                if folder != out:
                    if not os.path.lexists(folder):
                        break
                    if folder.is_symlink():
                        refuse(folder, "is a symbolic link; outputs are written only into plain folders")
                    if not folder.is_dir():
                        refuse(folder, "is a file where the run writes a folder")
                st = os.stat(folder)
                if st.st_dev != device:
                    refuse(folder, "is on another file system than the output folder (a mount point)")
                if not os.access(folder, os.W_OK):
                    refuse(folder, "is not writable")
                if _frozen(folder):
                    refuse(folder, "is immutable or append-only (chattr)")
            if part is None:
                break
            folder = out / part
        target = out / rel
        if os.path.lexists(target):
            if target.is_dir() and not target.is_symlink():
                refuse(target, "is a folder where the run writes a file")
            if owned is not None and rel in new and rel not in owned:
                refuse(target, "exists and no earlier run placed it (its manifest does not list it), so it is "
                       "not replaced")
            if _frozen(target):
                refuse(target, "is immutable or append-only (chattr)")


def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _write_manifest(out: Path, files: list[str]) -> None:
    write_text(out / MANIFEST, json.dumps({"format": 1, "files": files}, indent=1, ensure_ascii=False))


def _roll_forward(out: Path, journal: dict) -> None:
    """Finish a commit (each step is skipped when already done, so this may run again)."""
    staging, backup = out / journal["staging"], out / journal["backup"]
    for rel in journal["remove"]:
        if os.path.lexists(out / rel):
            _move(out / rel, backup / rel)
    for rel in journal["files"]:
        if os.path.lexists(staging / rel) and os.path.lexists(out / rel):
            _move(out / rel, backup / rel)
    for rel in journal["files"]:
        if os.path.lexists(staging / rel):
            _move(staging / rel, out / rel)
    _fsync_dir(out)
    _write_manifest(out, journal["files"])
    os.unlink(out / JOURNAL)
    _fsync_dir(out)
    _tidy(out, journal, journal["remove"])


def _roll_back(out: Path, journal: dict) -> None:
    """Undo a commit: the new files back into staging, the previous ones back into place."""
    staging, backup = out / journal["staging"], out / journal["backup"]
    for rel in journal["files"]:
        if not os.path.lexists(staging / rel) and os.path.lexists(out / rel):
            _move(out / rel, staging / rel)
    for rel in [*journal["remove"], *journal["files"]]:
        if os.path.lexists(backup / rel):
            _move(backup / rel, out / rel)
    if journal.get("previous") is not None:
        _write_manifest(out, journal["previous"])
    elif os.path.lexists(out / MANIFEST):
        os.unlink(out / MANIFEST)
    _fsync_dir(out)
    os.unlink(out / JOURNAL)
    _fsync_dir(out)
    _tidy(out, journal, journal["files"])


def _tidy(out: Path, journal: dict, emptied: list[str]) -> None:
    """Remove the backup and staging folders, and the folders ``emptied`` leaves empty that the
    previous run's files or this commit made (``rmdir`` only: a folder holding anything stays)."""
    shutil.rmtree(out / journal["backup"], ignore_errors=True)
    shutil.rmtree(out / journal["staging"], ignore_errors=True)
    folders = {d for r in emptied for d in _parents(r)} | {Path(d) for d in journal.get("made", ())}
    for d in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            (out / d).rmdir()
        except OSError:
            pass


def recover(out: Path) -> str | None:
    """Finish (or, when that fails, roll back) a commit in ``out`` that was cut off; what was done.
    Call it holding the folder's lock."""
    try:
        journal = json.loads((out / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DubError.at(out / JOURNAL, None, None, f"an interrupted commit's journal cannot be read ({exc}); "
                          "move it away to start afresh") from None
    if not all(_inside(r) for r in [*journal.get("files", []), *journal.get("remove", [])]):
        raise DubError.at(out / JOURNAL, None, None, "names files outside the output folder; move it away")
    try:
        _roll_forward(out, journal)
        return "finished"
    except OSError as exc:
        first = exc
    try:
        _roll_back(out, journal)
        return "rolled back"
    except OSError as exc:
        raise SystemFault(f"an interrupted commit in {out} could be neither finished ({_why(first)}) nor rolled back "
                          f"({_why(exc)}); the previous outputs are in {out / journal['backup']}") from None


def _why(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


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
