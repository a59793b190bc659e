"""``indextts-dub batch``, ``worker``: many episodes in one process, or the stages as Celery
tasks on Redis (:mod:`indextts_dub.service`)."""
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
        if exc.name and exc.name.split(".")[0] in ("celery", "redis", "kombu", "fastapi", "uvicorn", "multipart"):
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
    from ..service import jobs
    from ..service.store import Store

    if not args.store:
        raise DubError.at(None, None, "--store", "--broker needs --store, the folder the workers mount")
    tasks = _service_module("tasks")
    store = Store.at(args.store)
    tasks.configure(args.broker, store.root)
    queued = []
    failed = 0
    for ep in episodes:
        try:
            names, files = jobs.input_files(ep.input, ep.cast, ep.video)
            job = tasks.create(store, files, names["subtitles"], names["cast"], names["video"], ep.options)
        except DubError as exc:
            failed += 1
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            continue
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
                 loglevel=args.loglevel, visibility_timeout=args.visibility_timeout)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from pathlib import Path

    b = sub.add_parser("batch", help="dub many episodes (a jobs.yaml) with one loaded engine, or through the queue")
    b.add_argument("jobs", type=Path, metavar="JOBS.yaml", help="the episodes: inputs, cast, output folder each")
    b.add_argument("--broker", help="run them as jobs on this Redis (redis://HOST:PORT/DB) instead of here")
    b.add_argument("--store", help="with --broker: the store folder the workers mount")
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
    w.add_argument("--loglevel", default="INFO")
    w.set_defaults(func=_cmd_worker)
