"""The client of the HTTP API (``indextts-dub submit``): upload a job's files, follow it, and
download its outputs into a folder laid out as a local run's."""
from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import requests

from ..errors import DubError, Problem
from ..deliver import owns
from ..fsio import Staging
from . import jobs


KEY_ENV = "INDEXTTS_DUB_KEY"        # the API key when the command line is given no --key


class ServiceError(RuntimeError):
    """The server could not be reached, refused the key, or failed the job (not bad input);
    ``status``: the HTTP status, when the server answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, server: str, key: str, timeout: float = 60.0):
        self.server = server.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kw) -> requests.Response:
        try:
            resp = self.session.request(method, self.server + path, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise ServiceError(f"cannot reach {self.server}: {exc}") from None
        if resp.status_code == 422:
            try:
                body = resp.json()
            except ValueError:
                body = {"problems": [{"message": resp.text[:500]}]}
            raise DubError([Problem(p.get("file"), p.get("line"), p.get("field"), p.get("message", ""))
                            for p in body.get("problems", [])] or Problem(None, None, None, str(body)))
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise ServiceError(f"{method} {path}: {resp.status_code} {detail}", resp.status_code)
        return resp

    def submit(self, subtitles: str | Path, cast: str | Path | None = None, video: str | Path | None = None,
               options: dict[str, Any] | None = None, callback: str | None = None) -> dict[str, Any]:
        """Upload a job (its subtitles, casting file, video and the clips the casting file names)."""
        import json

        names, files = jobs.input_files(subtitles, cast, video)
        role = {v: k for k, v in names.items() if v}
        with ExitStack() as stack:
            parts = [(role.get(name, "file"), (name, stack.enter_context(open(path, "rb"))))
                     for name, path in files.items()]
            data = {k: v for k, v in (("options", json.dumps(options) if options else None),
                                      ("callback", callback)) if v}
            return self._call("POST", "/v1/jobs", files=parts, data=data).json()

    def add_voice(self, name: str, clip: str | Path, consent: str, by: str | None = None,
                  purpose: str | None = None, date: str | None = None, replace: bool = False) -> dict[str, Any]:
        """Register a voice with its consent record (``POST /v1/voices``); jobs then name it
        ``{library: NAME}`` or send the same clip as a ``ref:``."""
        data = {k: v for k, v in (("name", name), ("consent", consent), ("by", by), ("for", purpose),
                                  ("date", date), ("replace", "true" if replace else None)) if v}
        try:
            fh = open(clip, "rb")
        except OSError as exc:
            raise DubError.at(clip, None, "clip", f"cannot read it ({exc.strerror or exc})") from None
        with fh:
            return self._call("POST", "/v1/voices", data=data, files={"clip": (Path(clip).name, fh)}).json()

    def voices(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/voices").json()["voices"]

    def voice(self, name: str) -> dict[str, Any]:
        """One registered voice (``ServiceError`` with ``status`` 404 when there is none)."""
        from urllib.parse import quote

        return self._call("GET", f"/v1/voices/{quote(name, safe='')}").json()

    def remove_voice(self, name: str) -> None:
        from urllib.parse import quote

        self._call("DELETE", f"/v1/voices/{quote(name, safe='')}")

    def job(self, job: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job}").json()

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/jobs").json()["jobs"]

    def cancel(self, job: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v1/jobs/{job}").json()

    def wait(self, job: str, poll: float = 0.5, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
        while True:
            rec = self.job(job)
            if progress:
                progress(rec)
            if rec["state"] in ("done", "failed", "cancelled"):
                return rec
            time.sleep(poll)

    def download(self, job: str, dest: str | Path) -> list[Path]:
        """Every output of a finished job into ``dest``, whole or not at all."""
        rec = self.job(job)
        staging = Staging(dest, wait=True, owns=owns)
        try:
            for rel in rec.get("outputs", []):
                resp = self._call("GET", f"/v1/jobs/{job}/files/{rel}", stream=True)
                with open(staging.path(rel), "wb") as fh:
                    for chunk in resp.iter_content(1 << 20):
                        fh.write(chunk)
            return staging.commit()
        except BaseException:
            staging.abort()
            raise
