"""The shared store: one folder every worker and the server mount (a network file system in
production), holding the jobs and the take cache every worker shares.

Layout::

    STORE/takes/                    the take cache (indextts_dub.takes.cache), shared by every job
    STORE/voices/tenants/<t>.sqlite each tenant's registered voices with their consent (a voice library)
    STORE/voices/deny.sqlite        the service's deny list (a voice library file; ``voices deny``)
    STORE/jobs/<id>/job.json        the job: tenant, inputs, stage, state, warnings, errors
    STORE/jobs/<id>/inputs/         the job's input files (subtitles, casting file, video, clips)
    STORE/jobs/<id>/work/           what the stages hand each other (options, plan, fitted clips)
    STORE/jobs/<id>/out/            the outputs, exactly as a local run's output folder

Every write goes through :mod:`indextts_dub.fsio` (temporary name, fsync, rename). The work
files are pickles written and read only by the service's own processes; nothing a client sends
is ever unpickled. A job's record is rewritten as a whole under a lock on the job's folder, so
concurrent workers updating one job never lose each other's changes.
"""
from __future__ import annotations

import fcntl
import json
import os
import pickle
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .. import fsio
from ..errors import DubError

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")
STAGES = ("inputs", "natural", "plan", "fitted", "deliver")
JOB_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Store:
    root: Path

    @classmethod
    def at(cls, root: str | Path) -> "Store":
        r = Path(root).expanduser().resolve()
        try:
            (r / "jobs").mkdir(parents=True, exist_ok=True)
            (r / "takes").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DubError.at(r, None, "--store", f"cannot use the store folder: {exc.strerror or exc}") from None
        return cls(r)

    @property
    def takes(self) -> Path:
        return self.root / "takes"

    @property
    def deny_list(self) -> Path:
        """The service's deny list: a voice library file (``indextts-dub voices deny NAME clip.wav
        --reason ... --library STORE/voices/deny.sqlite``) applied to every voice of every job."""
        return self.root / "voices" / "deny.sqlite"

    def library(self, tenant: str) -> Path:
        """The tenant's voice library: its registered voices and their consent records."""
        from .keys import TENANT

        if not TENANT.fullmatch(tenant):
            raise KeyError(tenant)
        return self.root / "voices" / "tenants" / f"{tenant}.sqlite"

    # ------------------------------------------------------------ jobs

    def new_job(self, tenant: str = "local") -> str:
        job = uuid.uuid4().hex
        d = self.job_dir(job)
        (d / "inputs").mkdir(parents=True)
        (d / "work").mkdir()
        self._write(job, {"id": job, "tenant": tenant, "state": "queued", "created": time.time(),
                          "stage": "inputs", "warnings": [], "errors": []})
        return job

    def job_dir(self, job: str) -> Path:
        if not JOB_ID.fullmatch(job):
            raise KeyError(job)
        return self.root / "jobs" / job

    def inputs(self, job: str) -> Path:
        return self.job_dir(job) / "inputs"

    def work(self, job: str) -> Path:
        return self.job_dir(job) / "work"

    def out(self, job: str) -> Path:
        return self.job_dir(job) / "out"

    def exists(self, job: str) -> bool:
        try:
            return (self.job_dir(job) / "job.json").is_file()
        except KeyError:
            return False

    def job(self, job: str) -> dict[str, Any]:
        """The job's record; KeyError when there is none."""
        try:
            return json.loads((self.job_dir(job) / "job.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyError(job) from None

    def jobs(self, tenant: str | None = None) -> list[dict[str, Any]]:
        out = []
        for f in sorted((self.root / "jobs").glob("*/job.json")):
            try:
                rec = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if tenant is None or rec.get("tenant") == tenant:
                out.append(rec)
        return sorted(out, key=lambda r: r.get("created", 0))

    @contextmanager
    def _locked(self, job: str) -> Iterator[None]:
        fd = os.open(self.job_dir(job) / ".job.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, job: str, record: dict[str, Any]) -> None:
        fsio.write_bytes(self.job_dir(job) / "job.json",
                          json.dumps(record, indent=1, ensure_ascii=False).encode("utf-8"))

    def update(self, job: str, **changes: Any) -> dict[str, Any]:
        """Change fields of the job's record; a job in a final state keeps its state."""
        with self._locked(job):
            rec = self.job(job)
            if rec.get("state") in FINAL and "state" in changes and changes["state"] != rec["state"]:
                changes.pop("state")
            rec.update(changes)
            rec["updated"] = time.time()
            self._write(job, rec)
            return rec

    def fail(self, job: str, errors: list[str]) -> None:
        self.update(job, state="failed", errors=errors, ended=time.time())

    # ------------------------------------------------------------ what the stages hand on

    def put(self, job: str, name: str, value: Any) -> None:
        path = self.work(job) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fsio.write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def get(self, job: str, name: str) -> Any:
        return pickle.loads((self.work(job) / name).read_bytes())

    def put_first(self, job: str, name: str, value: Any) -> None:
        """:meth:`put`, unless ``name`` is there already: the first run of a task that ran twice
        (redelivered while it still ran) is the one that counts."""
        if not (self.work(job) / name).exists():
            self.put(job, name, value)

    @contextmanager
    def once(self, job: str, step: str) -> Iterator[bool]:
        """Run one step of the job (the plan, the delivery) to its end once, however many runs of
        its task there are: yields True under a lock on the step (another run waits for it; the
        kernel releases it if its process dies), and the step is marked done when the block ends
        without an exception; yields False, nothing to do, when the step was done already."""
        done = self.work(job) / "once" / step
        done.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(done.parent / f".{step}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if done.exists():
                yield False
                return
            yield True
            fsio.write_bytes(done, b"")
        finally:
            os.close(fd)

    def missing(self, job: str, stage: str) -> list[int]:
        """The groups of the job whose marks of ``stage`` are not there yet."""
        folder = self.work(job) / "done" / stage
        return [k for k in range(len(self.job(job)["groups"])) if not (folder / f"{k:05d}").is_file()]

    def mark(self, job: str, stage: str, group: int, lines: int) -> None:
        """Say that one group of a stage's lines is done (idempotent: a redelivered task rewrites it)."""
        path = self.work(job) / "done" / stage / f"{group:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        fsio.write_bytes(path, str(lines).encode())

    def progress(self, job: str) -> dict[str, int]:
        """Lines done per fanned-out stage: finished marks only (a mark being written is a hidden
        temporary file beside them; one that vanishes while it is read, as a cancelled job's
        folder is removed, is not counted)."""
        out = {}
        for stage in ("natural", "fitted"):
            out[stage] = 0
            folder = self.work(job) / "done" / stage
            try:
                marks = [f for f in folder.iterdir() if not f.name.startswith(".")]
            except FileNotFoundError:
                continue
            for f in marks:
                try:
                    out[stage] += int(f.read_text() or 0)
                except (FileNotFoundError, ValueError):
                    continue
        return out

    def output_file(self, job: str, relative: str) -> Path:
        """An output of the job by its path in the output folder; KeyError for anything outside it
        (``..``, absolute paths, links out) or missing."""
        out = self.out(job).resolve()
        path = (out / relative).resolve()
        if not path.is_relative_to(out) or not path.is_file() or any(
                p.name.startswith(".") for p in [path, *path.relative_to(out).parents] if p != Path(".")):
            raise KeyError(relative)
        return path

    def outputs(self, job: str) -> list[str]:
        out = self.out(job)
        if not out.is_dir():
            return []
        return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                      if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts))
