"""Fixtures for the service: a real redis-server and real worker processes, per test."""
from __future__ import annotations

import gc

import pytest

from support.service import RedisServer, Server, Worker, child_env


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path):
    from indextts_dub.service.store import Store

    return Store.at(tmp_path / "store")


@pytest.fixture
def start_worker(tmp_path, redis_server, store, toy_engine):
    """Start ``indextts-dub worker`` processes (the toy engine importable in them); all stopped at the end."""
    started: list[Worker] = []

    def start(concurrency: int = 1, extra: list[str] | None = None, **env: str) -> Worker:
        w = Worker(redis_server.url, store.root, tmp_path / f"worker{len(started)}.log", concurrency,
                   child_env([str(toy_engine.SITE)], **env), extra)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def queue(redis_server, store):
    """The service's task module, talking to this test's Redis and store."""
    from indextts_dub.service import tasks

    from indextts_dub import sharedcache

    tasks.configure(redis_server.url, store.root)
    yield tasks
    sharedcache.use(None)          # the voice cache layer goes with this test's Redis
    tasks._INPUTS.clear()
    gc.collect()            # Celery's results of the tasks sent let go of Redis while it still runs


@pytest.fixture
def api(tmp_path, redis_server, store, toy_engine):
    """``indextts-dub serve`` on a free port, with keys for tenants acme and other; yields
    (server, {tenant: key}); ``api_extra`` (a list of flags) may be set on the test module."""
    from indextts_dub.service import keys

    keyfile = tmp_path / "keys.txt"
    tenants = {t: keys.new(keyfile, t) for t in ("acme", "other")}
    server = Server(redis_server.url, store.root, keyfile, tmp_path / "server.log",
                    child_env([str(toy_engine.SITE)]), extra=["--max-upload", "300K"])
    yield server, tenants
    server.stop()
