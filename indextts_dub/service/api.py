"""The HTTP API (FastAPI on uvicorn): jobs in, progress and files out, per tenant.

``indextts-dub serve --broker URL --store DIR --keys FILE`` runs it; the OpenAPI page is at
``/docs``. Every request carries ``Authorization: Bearer KEY`` (keys per tenant, :mod:`.keys`);
a tenant sees only its own jobs (another tenant's id is answered 404, as an unknown one is).

``POST /v1/jobs`` takes either a multipart form (``subtitles``, optional ``cast`` and ``video``,
any number of ``file`` parts for the clips the casting file names, each by its relative path as
its file name, ``options`` as JSON text, ``callback``) or a JSON body naming files already in the
store under ``STORE/files/<tenant>/`` (``{"subtitles": "ep1/episode.srt", "cast": ..., "video":
..., "options": {...}, "callback": ...}``). The inputs are checked as the command line checks
them before anything is queued: 422 with ``{"errors": ["file:line: field: message", ...]}``.
A job's voices are the tenant's (:mod:`.voices`): ``{library: NAME}`` names a registered voice,
a reference clip must be one, and the service's deny list applies to every voice.

``POST /v1/voices`` registers a voice: a multipart form with ``name``, ``clip`` (the file) and
its consent record (``consent``: the statement as given, ``by``: who agreed, ``for``: what for,
``date``), as ``indextts-dub voices add`` takes it; ``GET /v1/voices``, ``GET`` and ``DELETE
/v1/voices/{name}``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..errors import DubError, Problem, Problems
from . import batch, jobs, tasks, voicecache, voices
from .keys import Keys
from .store import Store

MAX_UPLOAD = 2 * 1024 ** 3          # bytes in one request
MAX_FILES = 200
PUBLIC = ("id", "state", "stage", "created", "updated", "ended", "lines", "skipped", "engine", "warnings", "errors",
          "summary", "inputs")


def view(store: Store, rec: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of a job's record."""
    out = {k: rec[k] for k in PUBLIC if k in rec}
    done = store.progress(rec["id"]) if store.exists(rec["id"]) else {}
    total = rec.get("lines") or 0
    out["progress"] = {stage: {"done": n, "total": total} for stage, n in done.items()}
    if rec.get("state") == "done":
        out["outputs"] = rec.get("outputs") or store.outputs(rec["id"])
    return out


def _problems_response(exc: DubError, hide: dict[str, str] | None = None) -> JSONResponse:
    """422 with every problem; ``hide``: server paths in the messages and what to say instead."""
    problems = exc.problems
    for path, instead in (hide or {}).items():
        problems = [Problem(p.file, p.line, p.field, p.message.replace(path, instead)) for p in problems]
    return JSONResponse({"errors": [str(p) for p in problems],
                         "problems": [{"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                                      for p in problems]}, status_code=422)


def _options(value: Any, problems: Problems) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            problems.add(None, None, "options", "must be a JSON object")
            return None
    if not isinstance(value, dict):
        problems.add(None, None, "options", "must be a JSON object")
        return None
    for key in set(value) - set(batch.OPTION_FIELDS):
        problems.add(None, None, f"options.{key}", f"unknown option (one of {', '.join(batch.OPTION_FIELDS)})")
    return batch.options(value, None, lambda key: None, "options", problems)


def _callback(value: Any, problems: Problems) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > 2000:
        problems.add(None, None, "callback", "must be an http:// or https:// URL")
        return None
    return value


def create_app(store: Store, broker: str, keys: Keys, max_upload: int = MAX_UPLOAD,
               voice_cache: int = voicecache.MAX_BYTES) -> FastAPI:
    tasks.configure(broker, store.root, voice_cache=voice_cache)
    app = FastAPI(title="indextts-dub", version="1", description="Subtitle-driven dubbing as a service.")

    def tenant_of(request: Request) -> tuple[str, str]:
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        found = keys.tenant(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if found is None:
            raise HTTPException(401, "send Authorization: Bearer KEY (a key from indextts-dub keys new TENANT)",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def own_job(request: Request, job: str) -> tuple[str, dict[str, Any]]:
        tenant, _ = tenant_of(request)
        try:
            rec = store.job(job)
        except KeyError:
            raise HTTPException(404, "no such job") from None
        if rec.get("tenant") != tenant:
            raise HTTPException(404, "no such job")
        return tenant, rec

    @app.post("/v1/jobs", status_code=202)
    async def submit(request: Request):
        tenant, key_digest = tenant_of(request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_upload:
            raise HTTPException(413, f"a job's upload is limited to {max_upload} bytes")
        problems = Problems()
        job = store.new_job(tenant)
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise DubError.at(None, None, "body", "must be a JSON object")
                names = _store_files(store, tenant, job, body, problems)
                fields = body
            else:
                form = await request.form(max_files=MAX_FILES, max_fields=50)
                names = await _uploads(store, job, form, max_upload, problems)
                fields = {k: form.get(k) for k in ("options", "callback")}
            opts = _options(fields.get("options"), problems)
            callback = _callback(fields.get("callback"), problems)
            problems.raise_if_any()
            opts = tasks.admit(store, tenant, job, names.get("cast"), opts)
            if callback:
                store.update(job, callback={"url": callback, "secret": key_digest})
            tasks.prepare(store, job, names["subtitles"], names.get("cast"), names.get("video"), opts)
        except DubError as exc:
            shutil.rmtree(store.job_dir(job), ignore_errors=True)
            return _problems_response(exc, {str(store.library(tenant)): "this tenant's registered voices",
                                            str(store.root): "STORE"})
        except HTTPException:
            shutil.rmtree(store.job_dir(job), ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(store.job_dir(job), ignore_errors=True)
            raise
        tasks.start(store, job)
        return view(store, store.job(job))

    @app.get("/v1/jobs")
    def list_jobs(request: Request):
        tenant, _ = tenant_of(request)
        return {"jobs": [{k: r[k] for k in ("id", "state", "stage", "created") if k in r} for r in store.jobs(tenant)]}

    @app.get("/v1/jobs/{job}")
    def get_job(request: Request, job: str):
        _, rec = own_job(request, job)
        return view(store, tasks.check(store, job))

    @app.get("/v1/jobs/{job}/files/{path:path}")
    def get_file(request: Request, job: str, path: str):
        _, rec = own_job(request, job)
        if rec.get("state") != "done":
            raise HTTPException(404, f"the job is {rec.get('state')}; its files are served once it is done")
        try:
            return FileResponse(store.output_file(job, path))
        except KeyError:
            raise HTTPException(404, "no such file") from None

    @app.delete("/v1/jobs/{job}")
    def cancel(request: Request, job: str):
        _, rec = own_job(request, job)
        rec = tasks.cancel(store, job)
        return view(store, rec)

    # ------------------------------------------------------------ voices

    @app.post("/v1/voices", status_code=201)
    async def add_voice(request: Request):
        tenant, _ = tenant_of(request)
        limit = min(voices.MAX_CLIP, max_upload)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
            raise HTTPException(413, f"a voice clip is limited to {limit} bytes")
        if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                    "application/x-www-form-urlencoded")):
            return _problems_response(DubError.at(None, None, "body", "send a multipart form: name, clip (the "
                                                  "file), consent, by, for, date"))
        form = await request.form(max_files=2, max_fields=len(voices.FORM_FIELDS) + 2)
        problems = Problems()
        for field in set(form.keys()) - set(voices.FORM_FIELDS):
            problems.add(None, None, field, f"unknown form field (one of {', '.join(voices.FORM_FIELDS)})")
        text: dict[str, str | None] = {}
        for field in ("name", "consent", "by", "for", "date", "replace"):
            value = form.get(field)
            if value is not None and not isinstance(value, str):
                problems.add(None, None, field, "must be text, not a file")
                value = None
            text[field] = value
        clip = form.get("clip")
        if not isinstance(clip, UploadFile):
            problems.add(None, None, "clip", "the voice's clip (3-15 s of speech) as a file")
        if not (text["name"] or "").strip():
            problems.add(None, None, "name", "the voice's name, as jobs will name it ({library: NAME})")
        replace = (text["replace"] or "false").strip().lower()
        if replace not in ("true", "false", "1", "0", "yes", "no"):
            problems.add(None, None, "replace", "must be true or false")
        if problems.items:
            return _problems_response(DubError(problems.items))
        try:
            upload = jobs.safe_name(clip.filename or "clip.wav", "clip").name
        except DubError as exc:
            return _problems_response(exc)
        folder = voices.stage_clip(store)
        try:
            dest = folder / upload
            await _save_upload(clip, dest, 0, limit, "a voice clip")
            entry = await run_in_threadpool(voices.register, store, tenant, text["name"], dest, upload,
                                            text["consent"], text["by"], text["for"], text["date"],
                                            replace in ("true", "1", "yes"))
        except DubError as exc:
            return _problems_response(exc, {str(store.root): "STORE"})
        finally:
            voices.discard(folder)
        return voices.view(entry)

    @app.get("/v1/voices")
    def list_voices(request: Request):
        tenant, _ = tenant_of(request)
        return {"voices": [voices.view(e) for e in voices.entries(store, tenant)]}

    @app.get("/v1/voices/{name}")
    def get_voice(request: Request, name: str):
        tenant, _ = tenant_of(request)
        entry = voices.get(store, tenant, name)
        if entry is None:
            raise HTTPException(404, "no such voice")
        return voices.view(entry)

    @app.delete("/v1/voices/{name}")
    def delete_voice(request: Request, name: str):
        tenant, _ = tenant_of(request)
        if not voices.remove(store, tenant, name):
            raise HTTPException(404, "no such voice")
        return {"id": name, "deleted": True}

    return app


async def _save_upload(upload, dest: Path, total: int, limit: int, what: str) -> int:
    """Stream an upload into ``dest`` in 1 MiB chunks; ``total``: bytes already taken by this
    request. 413 once the total passes ``limit``. Returns the new total."""
    with open(dest, "wb") as fh:
        while chunk := await upload.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise HTTPException(413, f"{what} is limited to {limit} bytes")
            fh.write(chunk)
    return total


async def _uploads(store: Store, job: str, form, max_upload: int, problems: Problems) -> dict[str, str | None]:
    """Write a multipart form's files into the job's input folder; their names."""
    names: dict[str, str | None] = {}
    total = 0
    folder = store.inputs(job)
    for field, value in form.multi_items():
        if field not in ("subtitles", "cast", "video", "file"):
            if field not in ("options", "callback"):
                problems.add(None, None, field, "unknown form field (subtitles, cast, video, file, options, callback)")
            continue
        if not isinstance(value, UploadFile):
            problems.add(None, None, field, "must be a file")
            continue
        try:
            name = jobs.safe_name(value.filename or "", field)
        except DubError as exc:
            problems.items.extend(exc.problems)
            continue
        if field != "file":
            if field in names:
                problems.add(None, None, field, "given twice")
                continue
            names[field] = name.as_posix()
        dest = folder / name
        if dest.exists():
            problems.add(name.as_posix(), None, field, "two uploads have this name")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        total = await _save_upload(value, dest, total, max_upload, "a job's upload")
    if "subtitles" not in names:
        problems.add(None, None, "subtitles", "a job needs its subtitles (or timeline) file")
    problems.raise_if_any()
    return names


def _store_files(store: Store, tenant: str, job: str, body: dict[str, Any], problems: Problems) -> dict[str, str | None]:
    """Copy the files a JSON body names (under ``STORE/files/<tenant>/``) into the job's input folder."""
    root = (store.root / "files" / tenant).resolve()
    paths: dict[str, Path | None] = {}
    for field in ("subtitles", "cast", "video"):
        value = body.get(field)
        if value is None:
            paths[field] = None
            continue
        try:
            rel = jobs.safe_name(value if isinstance(value, str) else "", field)
        except DubError as exc:
            problems.items.extend(exc.problems)
            continue
        p = (root / rel).resolve()
        if not p.is_relative_to(root) or not p.is_file():
            problems.add(rel.as_posix(), None, field, "no such file in the store's files/ folder for this tenant")
            continue
        paths[field] = p
    if paths.get("subtitles") is None and not problems.items:
        problems.add(None, None, "subtitles", "a job needs its subtitles (or timeline) file")
    problems.raise_if_any()
    names, files = jobs.input_files(paths["subtitles"], paths.get("cast"), paths.get("video"))
    for p in files.values():
        if not p.resolve().is_relative_to(root):
            raise DubError.at(p.name, None, "cast", "names a file outside the store's files/ folder for this tenant")
    jobs.place(store.inputs(job), files)
    return names
