"""``indextts-dub batch``, ``worker``, ``serve``, ``keys``, ``submit``: many episodes in one
process, the stages as Celery tasks on Redis, the HTTP API and its client (:mod:`indextts_dub.service`)."""
from __future__ import annotations

import argparse
import sys

from ..errors import DubError


def _service_module(name: str):
    """A module of the service (its libraries come with ``pip install 'indextts-dub[service]'``)."""
    import importlib

    try:
        return importlib.import_module(f"indextts_dub.service.{name}")
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("celery", "redis", "kombu", "fastapi", "uvicorn", "multipart", "requests"):
            from ..engines import EngineError

            raise EngineError(f"the service needs {exc.name}: pip install 'indextts-dub[service]'") from None
        raise


def _cmd_batch(args: argparse.Namespace) -> int:
    from ..service import batch

    episodes = batch.read(args.jobs)
    if args.broker:
        return _batch_queued(args, episodes)
    from ..pipeline import dub

    failed = 0
    for i, ep in enumerate(episodes, 1):
        print(f"[{i}/{len(episodes)}] {ep.input} -> {ep.output}", flush=True)
        try:
            result = dub(ep.input, ep.cast, ep.video, ep.output, ep.options)
        except DubError as exc:
            failed += 1
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            continue
        if not args.quiet:
            print(result.summary)
    print(f"{len(episodes) - failed} of {len(episodes)} episodes dubbed")
    return 2 if failed else 0


def _batch_queued(args: argparse.Namespace, episodes) -> int:
    import shutil

    from ..errors import Problem
    from ..service import jobs
    from ..service.store import Store

    if not args.store:
        raise DubError.at(None, None, "--store", "--broker needs --store, the folder the workers mount")
    tasks = _service_module("tasks")
    store = Store.at(args.store)
    try:
        store.library(args.tenant)
    except KeyError:
        raise DubError.at(None, None, "--tenant",
                          f"not a tenant name: {args.tenant!r} (letters, digits, '.', '-', '_')") from None
    tasks.configure(args.broker, store.root)
    # every episode is checked as the server checks a job (its voices included) before any is queued
    prepared = []
    failed = 0
    for ep in episodes:
        given: dict[str, str] = {}           # a job's names for its files -> the batch file's
        try:
            names, files = jobs.input_files(ep.input, ep.cast, ep.video)
            given = {names[k]: str(p) for k, p in (("subtitles", ep.input), ("cast", ep.cast)) if names[k]}
            job = tasks.create(store, files, names["subtitles"], names["cast"], names["video"], ep.options,
                               tenant=args.tenant)
        except DubError as exc:
            failed += 1
            for p in exc.problems:
                print(f"error: {Problem(given.get(p.file, p.file), p.line, p.field, p.message)}", file=sys.stderr)
            continue
        prepared.append((ep, job))
    if failed:
        for _, job in prepared:
            shutil.rmtree(store.job_dir(job), ignore_errors=True)
        print(f"nothing queued: {failed} of {len(episodes)} episodes refused", file=sys.stderr)
        return 2
    queued = []
    for ep, job in prepared:
        tasks.start(store, job)
        print(f"queued {ep.input} as job {job}", flush=True)
        queued.append((ep, job))
    for ep, job in queued:
        rec = tasks.wait(store, job)
        if rec["state"] != "done":
            failed += 1
            print(f"error: {ep.where}: job {job} {rec['state']}: " + "; ".join(rec.get("errors", [])[:1]),
                  file=sys.stderr)
            continue
        jobs.copy_outputs(store.out(job), ep.output)
        print(f"{ep.input} -> {ep.output} (job {job})")
    print(f"{len(episodes) - failed} of {len(episodes)} episodes dubbed")
    return 2 if failed else 0


def _cmd_worker(args: argparse.Namespace) -> int:
    tasks = _service_module("tasks")
    tasks.worker(args.broker, args.store, concurrency=args.concurrency, engine=args.engine,
                 loglevel=args.loglevel, visibility_timeout=args.visibility_timeout, voice_cache=args.voice_cache)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    api = _service_module("api")
    import uvicorn

    from ..service.keys import Keys, read
    from ..service.store import Store

    if args.keys is None:
        raise DubError.at(None, None, "--keys", "the server needs a keys file (indextts-dub keys new TENANT --keys FILE)")
    read(args.keys)                              # a broken keys file stops the server before it listens
    app = api.create_app(Store.at(args.store), args.broker, Keys(args.keys), args.max_upload, args.voice_cache)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.loglevel.lower())
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from ..service import keys

    key = keys.new(args.keys, args.tenant)
    print(key)
    print(f"added a key for {args.tenant} to {args.keys}; it is shown only now", file=sys.stderr)
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    client = _service_module("client")
    import json

    options = None
    if args.options:
        try:
            options = json.loads(args.options)
        except ValueError:
            raise DubError.at(None, None, "--options", "must be a JSON object, e.g. '{\"fill\": true}'") from None
    import os

    key = args.key or os.environ.get(client.KEY_ENV)
    if not key:
        raise DubError.at(None, None, "--key", f"the server needs your API key: --key KEY or ${client.KEY_ENV}")
    c = client.Client(args.server, key)
    try:
        rec = c.submit(args.input, args.cast, args.video, options, args.callback)
        print(rec["id"], flush=True)
        if not (args.wait or args.output):
            return 0
        seen: dict[str, object] = {}

        def show(r: dict) -> None:
            if args.quiet:
                return
            now = (r.get("state"), r.get("stage"), tuple((k, v["done"]) for k, v in r.get("progress", {}).items()))
            if now != seen.get("last"):
                seen["last"] = now
                done = ", ".join(f"{k} {v['done']}/{v['total']}" for k, v in r.get("progress", {}).items())
                print(f"{r['state']} ({r.get('stage')}): {done} lines", file=sys.stderr, flush=True)

        rec = c.wait(rec["id"], progress=show)
        if rec["state"] != "done":
            for e in rec.get("errors", [])[:20]:
                print(f"error: {e.splitlines()[0] if e else e}", file=sys.stderr)
            print(f"job {rec['id']} {rec['state']}", file=sys.stderr)
            return 3
        if args.output:
            c.download(rec["id"], args.output)
        if rec.get("summary") and not args.quiet:
            print(rec["summary"])
        return 0
    except client.ServiceError as exc:
        print(f"error: service: {exc}", file=sys.stderr)
        return 3


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from pathlib import Path

    b = sub.add_parser("batch", help="dub many episodes (a jobs.yaml) with one loaded engine, or through the queue")
    b.add_argument("jobs", type=Path, metavar="JOBS.yaml", help="the episodes: inputs, cast, output folder each")
    b.add_argument("--broker", help="run them as jobs on this Redis (redis://HOST:PORT/DB) instead of here")
    b.add_argument("--store", help="with --broker: the store folder the workers mount")
    b.add_argument("--tenant", default="local",
                   help="with --broker: whose registered voices the jobs use, and clone (default: local)")
    b.add_argument("-q", "--quiet", action="store_true", help="no per-episode summary")
    b.set_defaults(func=_cmd_batch)

    w = sub.add_parser("worker", help="run a worker: the stages as Celery tasks on Redis")
    w.add_argument("--broker", required=True, help="Redis URL, redis://HOST:PORT/DB (broker and results)")
    w.add_argument("--store", required=True, help="the store folder every worker and the server mount")
    w.add_argument("--engine", help="load this engine as each worker process starts (else on its first take)")
    w.add_argument("--concurrency", type=int, default=1,
                   help="worker processes, each with its engine loaded (GPU engines: one per device; default 1)")
    w.add_argument("--visibility-timeout", type=float, default=900,
                   help="seconds after which a task held by a vanished worker is delivered again (default 900)")
    from .dub import parse_size

    cache_help = ("the most the voice conditioning cache may keep in Redis (speaker embeddings, engine "
                  "conditioning; least recently used dropped first; default 2G; give every process the same)")
    w.add_argument("--voice-cache", type=parse_size, default=2 * 1024 ** 3, metavar="SIZE", help=cache_help)
    w.add_argument("--loglevel", default="INFO")
    w.set_defaults(func=_cmd_worker)

    s = sub.add_parser("serve", help="run the HTTP API (FastAPI on uvicorn; OpenAPI page at /docs)")
    s.add_argument("--broker", required=True, help="Redis URL, redis://HOST:PORT/DB")
    s.add_argument("--store", required=True, help="the store folder the workers mount")
    s.add_argument("--keys", help="API keys: one 'TENANT SHA256-OF-KEY' line each (indextts-dub keys new)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-upload", type=parse_size, default=2 * 1024 ** 3,
                   help="the most one job may upload (default 2G)")
    s.add_argument("--voice-cache", type=parse_size, default=2 * 1024 ** 3, metavar="SIZE", help=cache_help)
    s.add_argument("--loglevel", default="INFO")
    s.set_defaults(func=_cmd_serve)

    k = sub.add_parser("keys", help="API keys per tenant")
    k.add_argument("action", choices=("new",))
    k.add_argument("tenant", metavar="TENANT")
    k.add_argument("--keys", required=True, help="the keys file to append to")
    k.set_defaults(func=_cmd_keys)

    c = sub.add_parser("submit", help="send a job to a server; with --wait or -o, follow it and fetch its outputs")
    c.add_argument("input", metavar="INPUT", help="subtitle file, or an editor timeline")
    c.add_argument("--cast", help="casting file (its clips are uploaded with it)")
    c.add_argument("--video", help="video to mux the dub into")
    c.add_argument("--server", required=True, help="the API, e.g. http://127.0.0.1:8000")
    c.add_argument("--key", help="your API key (default: $INDEXTTS_DUB_KEY)")
    c.add_argument("--options", help="run options as JSON, e.g. '{\"fill\": true, \"speed_max\": 1.2}'")
    c.add_argument("--callback", help="a URL that gets a signed POST when the job ends")
    c.add_argument("--wait", action="store_true", help="follow the job until it ends")
    c.add_argument("-o", "--output", help="download the outputs here (as a local run lays them out); implies --wait")
    c.add_argument("-q", "--quiet", action="store_true")
    c.set_defaults(func=_cmd_submit)
