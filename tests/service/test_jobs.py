"""A job through real Celery workers on a real Redis: the same bytes as a local dub."""
from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from support.service import episode, tree


def _submit(queue, store, src, **kw):
    from indextts_dub.service import jobs

    names, files = jobs.input_files(src / "episode.srt", src / "cast.yaml")
    job = queue.create(store, files, names["subtitles"], names["cast"], names["video"], **kw)
    queue.start(store, job)
    return job


def _local(tmp_path, src, monkeypatch, name="local"):
    from indextts_dub import dub

    monkeypatch.chdir(src)
    dub("episode.srt", cast="cast.yaml", out=tmp_path / name)
    return tree(tmp_path / name)


def test_a_job_end_to_end_writes_the_bytes_of_a_local_dub(tmp_path, monkeypatch, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    start_worker()
    job = _submit(queue, store, src)
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    assert rec["lines"] == 7 and len(rec["groups"]) == 6        # the two "Yes." of Bob are one group
    assert store.progress(job) == {"natural": 7, "fitted": 7}
    served = tree(store.out(job))
    local = _local(tmp_path, src, monkeypatch)
    assert sorted(served) == sorted(local) and "plan.json" in served and "clips/0001_Alice.wav" in served
    assert [k for k in local if served[k] != local[k]] == []


def test_two_workers_share_one_episode(tmp_path, monkeypatch, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    a, b = start_worker(TOY_ENGINE_DELAY="0.2"), start_worker(TOY_ENGINE_DELAY="0.2")   # each take lasts a moment
    job = _submit(queue, store, src)
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    ran = [w.log.read_text() for w in (a, b)]
    assert all("indextts_dub.natural" in log and "succeeded" in log for log in ran)   # both took lines
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def test_a_worker_killed_mid_task_has_its_task_redelivered(tmp_path, monkeypatch, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    w = start_worker(TOY_ENGINE_DELAY="1.5")
    job = _submit(queue, store, src)
    deadline = time.monotonic() + 60
    while not (store.work(job) / "done" / "natural").is_dir() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                                  # the next line's take is being spoken
    killed = w.children()
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    assert "WorkerLostError" in w.log.read_text() or "SIGKILL" in w.log.read_text()
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def _tasks(log: str, what: str) -> set[str]:
    """The ids of the tasks a worker's log says were ``received`` or ``succeeded``."""
    return set(re.findall(r"Task indextts_dub\.\w+\[([0-9a-f-]+)\] " + what, log))


def test_a_whole_worker_killed_mid_job_has_its_task_run_by_another(tmp_path, monkeypatch, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    short = ["--visibility-timeout", "4"]          # the tasks here last about a second
    a = start_worker(extra=short, TOY_ENGINE_DELAY="0.8")
    b = start_worker(extra=short, TOY_ENGINE_DELAY="0.8")
    job = _submit(queue, store, src)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:              # a is in the middle of a task it took
        log = a.log.read_text()
        held = _tasks(log, "received") - _tasks(log, "succeeded")
        if held and store.progress(job)["natural"] >= 1:
            break
        time.sleep(0.05)
    assert held, "worker a never held a task"
    time.sleep(0.2)
    os.killpg(a.proc.pid, signal.SIGKILL)          # the main process and its pool: nothing acknowledges
    a.proc.wait(10)
    deadline = time.monotonic() + 60                 # a few visibility timeouts, not kombu's default sweep
    while queue.check(store, job)["state"] not in ("done", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.2)
    rec = store.job(job)
    assert rec["state"] == "done", (rec["state"], rec.get("errors"))
    log_a = a.log.read_text()
    lost = _tasks(log_a, "received") - _tasks(log_a, "succeeded")
    assert lost and lost <= _tasks(b.log.read_text(), "succeeded")        # b ran what a took and lost
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def test_bad_input_is_refused_before_anything_is_queued(tmp_path, store, queue, toy_engine):
    from indextts_dub.errors import DubError

    src = tmp_path / "src"
    episode(src, cast="engine: toy\ncharacters:\n  Alice: toy:nobody\n")
    with pytest.raises(DubError) as err:
        _submit(queue, store, src)
    assert "cast.yaml:3" in str(err.value) and "characters.Alice" in str(err.value)
    assert store.jobs() == []                        # no job left behind


def test_a_cancelled_job_stops_and_serves_nothing(tmp_path, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    start_worker(TOY_ENGINE_DELAY="0.5")
    job = _submit(queue, store, src)
    queue.cancel(store, job)
    rec = queue.wait(store, job)
    assert rec["state"] == "cancelled"
    time.sleep(3)                                    # what was queued drains without doing the work
    assert store.job(job)["state"] == "cancelled" and store.outputs(job) == []


def test_redis_restarted_mid_job_fails_clearly_and_a_resubmission_completes(tmp_path, monkeypatch, redis_server,
                                                                            store, queue, start_worker):
    src = tmp_path / "src"
    episode(src)
    start_worker(TOY_ENGINE_DELAY="0.7")
    job = _submit(queue, store, src)
    deadline = time.monotonic() + 60
    while store.progress(job)["natural"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    redis_server.stop()                              # no persistence: the queue and the chords are gone
    redis_server.start()
    rec = queue.wait(store, job)
    assert rec["state"] == "failed" and "the queue lost this job" in rec["errors"][0]
    assert store.outputs(job) == [] and not store.out(job).exists()
    again = _submit(queue, store, src)               # the worker reconnected; the spoken takes are re-used
    rec = queue.wait(store, again)
    assert rec["state"] == "done", rec.get("errors")
    served, local = tree(store.out(again)), _local(tmp_path, src, monkeypatch)
    for t in (served, local):                        # fewer engine calls: the first job's takes were kept
        doc = json.loads(t["plan.json"])
        calls = [doc["summary"].pop(k) for k in ("synthesis_calls", "synthesis_calls_per_line")]
        t["plan.json"] = json.dumps(doc, sort_keys=True)
        t["calls"] = calls[0]
    assert served.pop("calls") < local.pop("calls")
    assert served == local


BUILTIN = [("Alice", "Good morning."), ("Bob", "早上好。")]


def test_a_job_with_the_built_in_engine(tmp_path, monkeypatch, store, queue, start_worker):
    src = tmp_path / "src"
    episode(src, lines=BUILTIN, cast="characters:\n  Alice: kokoro:jf_alpha\n  Bob: kokoro:jm_kumo\n")
    start_worker()
    job = _submit(queue, store, src)
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    assert rec["engine"] == "kokoro"
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def test_progress_counts_only_finished_marks_while_they_are_written(store):
    """A mark being written is a hidden temporary file beside the finished ones; progress read at
    that moment (the API does, on every GET of the job) counts only finished marks, and a
    temporary file renamed away under it is no error (CI saw a 500 from that race)."""
    from indextts_dub import fsio

    job = store.new_job()
    store.mark(job, "natural", 0, 3)
    folder = store.work(job) / "done" / "natural"
    fsio.temporary_name(folder / "00001").write_text("4")          # a writer mid-way
    assert store.progress(job) == {"natural": 3, "fitted": 0}

    real_iterdir = type(folder).iterdir

    def racing(self):          # listed, then gone before it is read (a cancelled job's folder removed)
        for p in real_iterdir(self):
            yield p
        yield self / "00002"
    import unittest.mock
    with unittest.mock.patch.object(type(folder), "iterdir", racing):
        assert store.progress(job) == {"natural": 3, "fitted": 0}


def test_a_task_run_twice_counts_once_and_each_join_goes_on_once(tmp_path, monkeypatch, store, queue, toy_engine):
    """What a redelivered task does (Redis hands a task out again once it outlives the visibility
    timeout, while its first run still works), done here by calling each task twice: the lines
    are counted once, the engine's figures are the first run's, the plan queues the fitted stage
    once, and two runs of the delivery at once deliver once (the second waits, finds it done)."""
    import threading

    import redis

    from indextts_dub import pipeline
    from indextts_dub.service import jobs

    src = tmp_path / "src"
    episode(src)
    names, files = jobs.input_files(src / "episode.srt", src / "cast.yaml")
    job = queue.create(store, files, names["subtitles"], names["cast"], names["video"])     # not queued
    n = len(store.job(job)["groups"])
    monkeypatch.chdir(tmp_path)
    for k in range(n):
        assert queue.natural(job, k) == queue.natural(job, k) == k    # the same result: the chord counts one
    assert store.progress(job)["natural"] == 7
    broker = redis.Redis.from_url(queue._app.conf.broker_url)
    for _ in range(2):
        queue.plan(list(range(n)), job)
    assert broker.llen("celery") == n                  # the fitted stage queued once, not twice
    for k in range(n):
        assert queue.fitted(job, k) == queue.fitted(job, k) == k
    assert store.progress(job) == {"natural": 7, "fitted": 7}

    real, calls, inside, go = pipeline.deliver_staged, [], threading.Event(), threading.Event()

    def held(*args, **kw):                              # the first delivery is still working ...
        calls.append(1)
        inside.set()
        go.wait(60)
        return real(*args, **kw)

    monkeypatch.setattr(pipeline, "deliver_staged", held)
    runs = [threading.Thread(target=queue.deliver, args=(list(range(n)), job)) for _ in range(2)]
    runs[0].start()
    assert inside.wait(60)
    runs[1].start()                                     # ... when its redelivered copy starts
    runs[1].join(1)
    go.set()
    for t in runs:
        t.join(60)
    assert len(calls) == 1
    rec = store.job(job)
    assert rec["state"] == "done", rec.get("errors")
    monkeypatch.setattr(pipeline, "deliver_staged", real)
    # the figures a local run writes (engine calls, per line) are the job's: nothing counted twice
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def test_tasks_redelivered_while_they_still_run_finish_the_job_once(tmp_path, monkeypatch, store, queue,
                                                                    start_worker):
    """A visibility timeout shorter than the tasks: Redis hands each running task out again, the
    other worker runs it at the same time; the job ends done, each stage's lines counted once,
    the plan and the delivery run once, the bytes a local run writes."""
    from support.service import SRT_LINES

    src = tmp_path / "src"
    episode(src, lines=SRT_LINES[:3])
    short = ["--visibility-timeout", "1"]
    a = start_worker(extra=short, TOY_ENGINE_DELAY="1.5")
    b = start_worker(extra=short, TOY_ENGINE_DELAY="1.5")
    job = _submit(queue, store, src)
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    logs = a.log.read_text() + b.log.read_text()
    received = re.findall(r"Task (indextts_dub\.\w+)\[([0-9a-f-]+)\] received", logs)
    assert len(received) > len(set(received)), "no task was delivered twice"
    assert store.progress(job) == {"natural": 3, "fitted": 3}
    tasks = {name: {i for n, i in received if n == name} for name, _ in received}
    # one task per group and stage, one plan, one delivery: no stage was queued twice
    assert {name: len(ids) for name, ids in tasks.items()} == {"indextts_dub.natural": 3, "indextts_dub.plan": 1,
                                                              "indextts_dub.fitted": 3, "indextts_dub.deliver": 1}
    summary = json.loads(tree(store.out(job))["plan.json"])["summary"]
    assert store.job(job)["synthesis_calls"] == summary["synthesis_calls"]
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)


def test_a_join_whose_count_came_early_waits_for_every_group(tmp_path, monkeypatch, store, queue, start_worker):
    """A join run before every group has marked its lines done (a Celery that counts a task run
    twice as two reaches the chord's size early) waits for the last group, then goes on."""
    from indextts_dub.service import jobs

    src = tmp_path / "src"
    episode(src)
    names, files = jobs.input_files(src / "episode.srt", src / "cast.yaml")
    job = queue.create(store, files, names["subtitles"], names["cast"], names["video"])
    n = len(store.job(job)["groups"])
    monkeypatch.chdir(tmp_path)
    for k in range(1, n):                                # every group but the first is done
        queue.natural(job, k)
    queue._redis().set(queue._LIVE + job, "1")
    queue._sig("plan", job, immutable=False).apply_async(([],))
    start_worker()
    deadline = time.monotonic() + 60
    while "Retry in 1s" not in "".join(p.read_text() for p in tmp_path.glob("worker*.log")):
        assert time.monotonic() < deadline, "the plan did not wait"
        time.sleep(0.1)
    assert not (store.work(job) / "plan.pickle").exists()
    queue.natural(job, 0)                                # the last group marks its lines done
    rec = queue.wait(store, job)
    assert rec["state"] == "done", rec.get("errors")
    assert tree(store.out(job)) == _local(tmp_path, src, monkeypatch)
