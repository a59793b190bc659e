"""The stages as Celery tasks on Redis: a job fans out its lines' natural takes, joins them for
the whole-episode plan, fans out the fitted takes, and joins them for delivery::

    chord([natural(job, group) ...], plan(job))      # plan then queues, once:
    chord([fitted(job, group) ...], deliver(job))

Each task calls the pipeline's own stage functions (:mod:`indextts_dub.pipeline`) on its share of
the episode, so a job's outputs are the bytes a local ``indextts-dub dub`` writes. A group is the
lines of one content (usually one line; lines that say the same thing in the same voice are kept
together and in order, as a local run speaks them). Tasks are idempotent: takes are stored by
content in the store's shared take cache and the stages' hand-overs are rewritten whole, so a
redelivered task does the same again, cheaply. A task may run twice at once (Redis hands a
message out again once the visibility timeout has passed, even while its first run still works):
a group's lines are marked done once (:meth:`.Store.mark`, by group), its engine figures are the
first run's, a header task returns its group's number (the same from every run, so the chord's
join counts it once), each join waits until every group has marked its lines done, and the plan
and the delivery run to their end once (:meth:`.Store.once`): a second run waits for the first,
then finds it done. The plan queues the fitted stage itself, inside that once, so a plan run
twice queues it once. Tasks are acknowledged late and rejected when
their worker process is lost, so a pool process killed mid-task (``kill -9``) has its task
delivered again at once; a whole worker killed (its main process and its pool) never
acknowledges what it took, and Redis hands that to another worker once the visibility
timeout has passed (:func:`transport_options`). A worker keeps its engine loaded between tasks
(one model per process).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from celery import Celery, chord, group
from celery.exceptions import Ignore, TaskPredicate

from .. import pipeline, sharedcache
from ..deliver import EngineWork
from ..deliver.summary import summary_text
from ..engines import EngineError
from ..errors import DubError
from ..fsio import Staging
from ..takes import Synthesizer, TakeCache
from . import jobs, keys, voicecache, voices
from .store import Store

VISIBILITY_TIMEOUT = 900        # s: a message a vanished worker held is delivered again after this

CONFIG = dict(
    task_serializer="json", result_serializer="json", accept_content=["json"],
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True, result_expires=7 * 24 * 3600,
    worker_hijack_root_logger=False,
)
_app: Celery | None = None
_store_root: Path | None = None


def transport_options(visibility_timeout: float = VISIBILITY_TIMEOUT) -> dict[str, Any]:
    """The Redis transport's options: a message a worker took and never acknowledged (the whole
    worker was killed, or its machine lost) is put back on the queue once ``visibility_timeout``
    seconds have passed since it was taken; every worker looks for such messages every few
    seconds (kombu's own default is every 100 s), so another worker runs it soon after."""
    return {"visibility_timeout": visibility_timeout,
            "unacked_restore_interval": max(1, min(10, int(visibility_timeout // 4))),
            "unacked_restore_throttle": 1}


def configure(broker: str, store: str | Path, visibility_timeout: float = VISIBILITY_TIMEOUT,
              voice_cache: int = voicecache.MAX_BYTES) -> Celery:
    """This process's Celery app, talking to ``broker`` (Redis, also the result backend), over
    ``store``, with the stages registered as its tasks (a later call replaces it); the voice
    conditioning cache in the same Redis, at most ``voice_cache`` bytes, is this process's
    shared cache layer (:mod:`.voicecache`)."""
    global _app, _store_root
    if _app is not None:
        _app.close()
    app = Celery("indextts_dub", set_as_current=True)
    app.conf.update(CONFIG, broker_url=broker, result_backend=broker,
                    broker_transport_options=transport_options(visibility_timeout),
                    result_backend_transport_options={"visibility_timeout": visibility_timeout})
    for fn in (natural, plan, fitted, deliver):
        app.task(name=f"indextts_dub.{fn.__name__}")(fn)
    _app, _store_root = app, Path(store).resolve()
    sharedcache.use(voicecache.VoiceCache(broker, voice_cache))
    return app


def _store() -> Store:
    assert _store_root is not None, "tasks.configure() was not called"
    return Store(_store_root)


def _sig(name: str, *args: Any, immutable: bool = True):
    assert _app is not None, "tasks.configure() was not called"
    return _app.signature(f"indextts_dub.{name}", args=args, immutable=immutable)


@contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    """Run with the job's input folder as the working folder, so its inputs are read by the same
    relative names a local run in that folder uses (a prefork or solo worker runs one task at a time)."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


# ---------------------------------------------------------------- preparing a job

def read_job(store: Store, job: str) -> tuple[pipeline.Inputs, pipeline.DubOptions]:
    """The job's inputs read by the first stage (raises :class:`DubError` for bad input)."""
    rec = store.job(job)
    opts = store.get(job, "options.pickle")
    names = rec["inputs"]
    with in_folder(store.inputs(job)):
        inp = pipeline.read_inputs(names["subtitles"], names.get("cast"), names.get("video"), opts)
    return inp, opts


_INPUTS: dict[str, tuple[pipeline.Inputs, pipeline.DubOptions]] = {}


def _inputs(store: Store, job: str) -> tuple[pipeline.Inputs, pipeline.DubOptions]:
    """:func:`read_job`, once per job in a worker process (the last few jobs are kept)."""
    if job not in _INPUTS:
        while len(_INPUTS) >= 8:
            _INPUTS.pop(next(iter(_INPUTS)))
        _INPUTS[job] = read_job(store, job)
    return _INPUTS[job]


def prepare(store: Store, job: str, subtitles: str, cast: str | None = None, video: str | None = None,
            options: pipeline.DubOptions | None = None) -> dict[str, Any]:
    """Check a job whose input files are in its input folder (names relative to it) and record
    how its lines fan out; raises :class:`DubError` with every problem before anything is queued."""
    opts = options or pipeline.DubOptions()
    # the service's deny list applies to every voice of every job
    opts = dataclasses.replace(opts, cache=str(store.takes), wait=True, deny_list=str(store.deny_list))
    store.put(job, "options.pickle", opts)
    # the take cache's speed model as the job begins: every task of the job predicts with it, as
    # every line of a local run does (what the job's renders teach it is added when it is done)
    store.put(job, "speed-model.pickle", TakeCache(store.takes).speed_shares())
    store.update(job, inputs={"subtitles": subtitles, "cast": cast, "video": video})
    inp, _ = read_job(store, job)
    synth = Synthesizer(inp.engine, inp.load_engine)
    groups: dict[str, list[int]] = {}
    for ln in inp.cast_lines.lines:
        groups.setdefault(synth.content(ln), []).append(ln.index)
    return store.update(job, groups=list(groups.values()), lines=len(inp.cast_lines.lines),
                        skipped=len(inp.cast_lines.skipped), engine=inp.engine_name)


def admit(store: Store, tenant: str, job: str, cast: str | None,
          options: pipeline.DubOptions | None = None) -> pipeline.DubOptions:
    """What the service requires of every job's voices, whoever queues it (the HTTP API,
    ``batch --broker``): the casting file (``cast``, relative to the job's input folder) names no
    library of its own and no file outside the job's inputs, and clones only voices whose clip is
    one of the tenant's registered voices (:func:`.voices.check_job`; :class:`DubError`
    otherwise); the job's library voices are the tenant's, whatever the options said. Returns
    the options to run the job with."""
    with in_folder(store.inputs(job)):
        voices.check_job(store, tenant, store.inputs(job), cast)
    voices.ensure_library(store, tenant)
    return dataclasses.replace(options or pipeline.DubOptions(), library=str(store.library(tenant)))


def create(store: Store, files: dict[str, Path | bytes], subtitles: str, cast: str | None = None,
           video: str | None = None, options: pipeline.DubOptions | None = None, tenant: str = "local") -> str:
    """A new job of ``files`` (relative name -> file or bytes) for ``tenant``, its voices
    admitted (:func:`admit`), checked and prepared, not yet queued; a :class:`DubError` leaves no
    job behind."""
    job = store.new_job(tenant)
    try:
        jobs.place(store.inputs(job), files)
        options = admit(store, tenant, job, cast, options)
        prepare(store, job, subtitles, cast, video, options)
    except BaseException:
        shutil.rmtree(store.job_dir(job), ignore_errors=True)
        raise
    return job


def wait(store: Store, job: str, poll: float = 0.2, progress=None) -> dict[str, Any]:
    """The job's record once it is done, failed or cancelled (``progress(record)`` on each poll)."""
    while True:
        rec = check(store, job)
        if progress:
            progress({**rec, "progress": store.progress(job)})
        if rec["state"] in ("done", "failed", "cancelled"):
            return rec
        time.sleep(poll)


def start(store: Store, job: str) -> str:
    """Queue a prepared job; returns the id of its last task."""
    _redis().set(_LIVE + job, "1", ex=int(CONFIG["result_expires"]))
    task = _send(job, "natural", "plan")
    store.update(job, task=task)
    return task


def _send(job: str, header: str, body: str) -> str:
    """Queue one stage: a chord of ``header(job, k)`` for every group ``k``, joined by
    ``body(results, job)``; the id of the body's task. The plan queues the fitted stage itself
    (:func:`plan`), once, rather than by a link that each run of a redelivered plan would follow."""
    # callers follow the job's record in the store, never the tasks' results: the sending
    # process neither subscribes to them nor unsubscribes (the Redis backend would, for every task
    # it sends, and again as each result object is dropped, at exit too, when Redis may be gone)
    backend = _app.backend
    backend.on_task_call = lambda producer, task_id: None
    backend.on_result_fulfilled = lambda result: None
    n = len(_store().job(job)["groups"])
    return chord(group(_sig(header, job, k) for k in range(n)), _sig(body, job, immutable=False)).apply_async().id


def _later(store: Store, job: str, stage: str) -> None:
    """Run the current join again in a moment if a group of ``stage`` has not marked its lines
    done yet (a chord whose count a header task run twice reached early, on a Celery that counts
    runs rather than tasks): the join waits for every group, never goes on without one."""
    missing = store.missing(job, stage)
    if not missing:
        return
    task = _app.current_task if _app is not None else None
    if task is None or task.request.called_directly:
        raise RuntimeError(f"{stage} groups {missing} are not done")
    raise task.retry(countdown=1, max_retries=None)


_LIVE = "indextts-dub:job:"     # a key in Redis while a job's tasks are on the queue


def _redis():
    import redis

    return redis.Redis.from_url(_app.conf.broker_url, socket_connect_timeout=5, socket_timeout=5)


def check(store: Store, job: str) -> dict[str, Any]:
    """The job's record, failed if the queue no longer knows it: Redis restarted without
    persistence (or was flushed) while it ran, so its queued tasks and the chords' counters are
    gone. Nothing of it was delivered (outputs appear whole, only when a job is done); submit
    it again and it re-uses every take already spoken. Redis unreachable: the record as it is."""
    import redis

    rec = store.job(job)
    if rec.get("state") not in ("queued", "running") or "task" not in rec:
        return rec
    try:
        alive = _redis().exists(_LIVE + job)
    except redis.RedisError:
        return rec
    if alive:
        return rec
    store.fail(job, ["the queue lost this job (Redis restarted or was flushed while it ran); nothing was "
                     "delivered; submit it again (the takes already spoken are re-used)"])
    notify(store, job)
    return store.job(job)


def cancel(store: Store, job: str) -> dict[str, Any]:
    """Stop a job: its tasks still queued skip their work; nothing of it is delivered."""
    rec = store.job(job)
    if rec["state"] in ("done", "failed", "cancelled"):
        return rec
    rec = store.update(job, state="cancelled", ended=time.time())
    notify(store, job)
    return rec


def notify(store: Store, job: str, timeout: float = 10.0) -> bool:
    """POST the job's end to its callback URL, if it has one: a JSON body signed with HMAC-SHA256
    (header ``X-Indextts-Dub-Signature: sha256=<hex>``, keyed by the SHA-256 of the API key that
    submitted it). A callback that fails is logged and does not change the job."""
    import json
    import logging
    import urllib.request

    rec = store.job(job)
    cb = rec.get("callback")
    if not cb:
        return False
    body = json.dumps({k: rec.get(k) for k in ("id", "state", "errors", "warnings", "outputs")},
                      sort_keys=True).encode("utf-8")
    req = urllib.request.Request(cb["url"], data=body, method="POST", headers={
        "Content-Type": "application/json", keys.SIGNATURE_HEADER: keys.sign(cb["secret"], body)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
        return True
    except (OSError, ValueError) as exc:
        logging.getLogger(__name__).warning("job %s: callback %s failed: %s", job, cb["url"], exc)
        return False


# ---------------------------------------------------------------- the tasks

@contextmanager
def _job_task(job: str, stage: str) -> Iterator[Store | None]:
    """Run one task of ``job``: skipped (None) when the job is over; a bad input or an engine
    failure fails the job with its messages and ends the task without a retry."""
    store = _store()
    if store.job(job)["state"] in ("failed", "cancelled", "done"):
        yield None
        return
    store.update(job, state="running", stage=stage)
    try:
        yield store
    except TaskPredicate:          # a retry (a join waiting for a group), or Ignore
        raise
    except DubError as exc:
        _failed(store, job, [str(p) for p in exc.problems])
    except EngineError as exc:
        _failed(store, job, [f"engine: {exc}"])
    except Exception as exc:
        _failed(store, job, [f"{stage}: {type(exc).__name__}: {exc}", traceback.format_exc(limit=4)])


def _failed(store: Store, job: str, errors: list[str]) -> None:
    store.fail(job, errors)
    notify(store, job)
    raise Ignore()


def _synth(store: Store, inp: pipeline.Inputs, job: str) -> Synthesizer:
    return Synthesizer(inp.engine, inp.load_engine, TakeCache(store.takes), _shares=store.get(job, "speed-model.pickle"))


def _work(synth: Synthesizer) -> dict[str, Any]:
    w = pipeline.engine_work(synth)
    return {"seconds": w.seconds, "calls": w.calls, "notes": list(w.notes), "observed": synth._observed}


def natural(job: str, k: int) -> int | None:
    """The natural takes of group ``k``'s lines (stored in the take cache); their lengths and the
    engine's work in the job's work folder (the first run's, should the task run twice)."""
    with _job_task(job, "natural") as store:
        if store is None:
            return None
        inp, _ = _inputs(store, job)
        only = set(store.job(job)["groups"][k])
        synth = _synth(store, inp, job)
        with in_folder(store.inputs(job)):
            takes = pipeline.natural_takes(inp, synth, only=only)
        store.put_first(job, f"natural/{k:05d}.pickle",
                        {"natural": {str(i): t.samples for i, t in takes.items()}, **_work(synth)})
        store.mark(job, "natural", k, len(only))
        return k        # the same from every run: the chord's join counts a redelivered task once


def plan(results: list[Any], job: str) -> None:
    """The whole-episode plan from every line's natural length (as the natural tasks stored
    them, one record per group however often a task ran); then queues the fitted stage, once."""
    with _job_task(job, "plan") as store:
        if store is None:
            return None
        with store.once(job, "plan") as first:
            if not first:
                return None                 # a plan run again (redelivered): the next stage is queued
            _later(store, job, "natural")
            inp, opts = _inputs(store, job)
            groups = len(store.job(job)["groups"])
            natural_samples = {int(i): n for k in range(groups)
                               for i, n in store.get(job, f"natural/{k:05d}.pickle")["natural"].items()}
            store.put(job, "plan.pickle", pipeline.make_plan(inp, natural_samples, opts))
            _send(job, "fitted", "deliver")
        return None


def fitted(job: str, k: int) -> int | None:
    """Group ``k``'s lines at their planned speeds, fitted to their planned lengths."""
    with _job_task(job, "fitted") as store:
        if store is None:
            return None
        inp, _ = _inputs(store, job)
        only = set(store.job(job)["groups"][k])
        the_plan = store.get(job, "plan.pickle")
        synth = _synth(store, inp, job)
        with in_folder(store.inputs(job)):
            takes = pipeline.natural_takes(inp, synth, only=only)
            clips = pipeline.fitted_clips(inp, the_plan, synth, takes, only=only)
        store.put(job, f"clips/{k:05d}.pickle", clips)
        store.put_first(job, f"fitted/{k:05d}.pickle", _work(synth))
        store.mark(job, "fitted", k, len(only))
        return k


def deliver(results: list[Any], job: str) -> None:
    """Every file of the job, into its output folder, whole or not at all; once, however many
    runs of it there are (the others wait, then find it done)."""
    with _job_task(job, "deliver") as store:
        if store is None:
            return None
        with store.once(job, "deliver") as first:
            if first:
                _later(store, job, "fitted")
                _deliver(store, job)
        return None


def _deliver(store: Store, job: str) -> None:
    inp, opts = _inputs(store, job)
    the_plan = store.get(job, "plan.pickle")
    rec = store.job(job)
    groups = range(len(rec["groups"]))
    by_index = {c.line.index: c for k in groups for c in store.get(job, f"clips/{k:05d}.pickle")}
    clips = [by_index[ln.index] for ln in inp.cast_lines.lines]
    spoken = [store.get(job, f"{stage}/{k:05d}.pickle") for stage in ("natural", "fitted") for k in groups]
    notes = next((r["notes"] for r in spoken if r["notes"]), [])
    work = EngineWork(sum(r["seconds"] for r in spoken), sum(r["calls"] for r in spoken), 0, tuple(notes))
    staging = Staging(store.out(job), wait=True)
    try:
        with in_folder(store.inputs(job)):
            done = pipeline.deliver_staged(staging, inp, opts, the_plan, clips, work)
        if store.job(job)["state"] == "cancelled":
            staging.abort()
            return None
        staging.commit()
    except BaseException:
        staging.abort()
        raise
    observed: dict[str, list[float]] = {}
    for r in spoken:
        for key, values in (r.get("observed") or {}).items():
            observed.setdefault(key, []).extend(values)
    TakeCache(store.takes).add_speed_shares(observed)
    summary = summary_text(clips, inp.cast_lines.skipped, done.warnings, done.facts)
    store.update(job, state="done", stage="done", warnings=done.warnings, summary=summary, ended=time.time(),
                 outputs=store.outputs(job), engine_seconds=work.seconds, synthesis_calls=work.calls)
    _INPUTS.pop(job, None)
    notify(store, job)


def worker(broker: str, store: str | Path, concurrency: int = 1, engine: str | None = None,
           loglevel: str = "INFO", visibility_timeout: float = VISIBILITY_TIMEOUT,
           voice_cache: int = voicecache.MAX_BYTES) -> None:
    """Run a worker in this process until it is stopped: ``concurrency`` processes, each keeping
    its engine loaded between tasks (``engine``: loaded as each process starts)."""
    import socket

    from celery.signals import worker_process_init

    Store.at(store)
    app = configure(broker, store, visibility_timeout, voice_cache)
    if engine:
        def warm(**_: Any) -> None:
            from .. import engines
            engines.load(engine)
        worker_process_init.connect(warm, weak=False)
    app.worker_main(["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "--pool=prefork",
                     "--without-gossip", "--without-mingle", f"--hostname=indextts-dub-{os.getpid()}@{socket.gethostname()}"])
