"""The voice conditioning cache in Redis: bounded, and shared by every worker."""
from __future__ import annotations

import shutil

from support.paths import DEMO
from support.service import episode, free_port

MEI = DEMO / "voices" / "mei.wav"
CLONE_CAST = ("engine: toy\nengine_options: {clone: true}\ncharacters:\n  Alice:\n    voice: {ref: voices/mei.wav}\n"
              "  Bob: toy:low\n")


def test_the_cache_keeps_its_size_bound_dropping_the_least_recently_used(redis_server):
    from indextts_dub.service.voicecache import VoiceCache

    cache = VoiceCache(redis_server.url, max_bytes=1000)
    cache.put("embedding/m/a", b"a" * 400)
    cache.put("embedding/m/b", b"b" * 400)
    assert cache.get("embedding/m/a") == b"a" * 400          # a is used again: b is now the oldest
    cache.put("conditioning/e/v/c/speaker", b"c" * 400)
    assert cache.get("embedding/m/b") is None
    assert cache.get("embedding/m/a") == b"a" * 400 and cache.get("conditioning/e/v/c/speaker") == b"c" * 400
    cache.put("embedding/m/a", b"A" * 500)                    # replaced: counted once, at its new size
    cache.put("embedding/m/huge", b"h" * 1001)                # larger than the bound: not kept
    assert cache.get("embedding/m/huge") is None and cache.get("embedding/m/a") == b"A" * 500
    stats = cache.stats()
    assert stats["bytes"] == 900 and stats["values"] == 2 and stats["evicted"] == 1
    assert stats["embedding:puts"] == 3 and stats["conditioning:puts"] == 1 and stats["embedding:misses"] == 2
    # nothing but our own keys: the queue's are never touched
    import redis

    r = redis.Redis.from_url(redis_server.url)
    r.set("celery-task-meta-x", b"keep")
    for i in range(5):
        cache.put(f"embedding/m/{i}", bytes(300))
    assert r.get("celery-task-meta-x") == b"keep"
    assert all(k.startswith(b"indextts-dub:voicecache:") for k in r.keys() if k != b"celery-task-meta-x")
    # a Redis that is gone only costs time
    gone = VoiceCache(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    assert gone.get("embedding/m/a") is None
    gone.put("embedding/m/a", b"x")


def test_a_voice_is_reused_across_jobs_on_two_workers_without_recomputing(tmp_path, store, queue, start_worker,
                                                                          redis_server):
    from indextts_dub.service import jobs
    from indextts_dub.service.voicecache import VoiceCache
    from indextts_dub.voices.library import Library, consent_record
    from support.clips import speech

    with Library(store.deny_list, write=True) as deny:        # a service has a deny list: every ref is embedded
        deny.deny("Someone Else", speech("am_michael", "en"), "public figure")
    with Library(store.library("local"), write=True) as lib:  # a cloned voice's consent is on record in the store
        lib.add("mei", MEI, consent_record("mei", "I agree that my voice is used to dub this series.", "Mei Chen"))
    log = tmp_path / "conditioning.log"

    def run(src):
        (src / "voices").mkdir(parents=True)
        shutil.copyfile(MEI, src / "voices" / "mei.wav")
        names, files = jobs.input_files(src / "episode.srt", src / "cast.yaml")
        job = queue.create(store, files, names["subtitles"], names["cast"], names["video"])
        queue.start(store, job)
        rec = queue.wait(store, job)
        assert rec["state"] == "done", rec.get("errors")

    # two workers on two "machines": each with a cache folder of its own, Redis in common
    a = start_worker(TOY_ENGINE_CONDITIONING_LOG=str(log), XDG_CACHE_HOME=str(tmp_path / "cache-a"))
    episode(tmp_path / "ep1", cast=CLONE_CAST)
    run(tmp_path / "ep1")
    a.stop()
    assert len(log.read_text().splitlines()) == 1                 # the first job paid for the voice
    start_worker(TOY_ENGINE_CONDITIONING_LOG=str(log), XDG_CACHE_HOME=str(tmp_path / "cache-b"))
    episode(tmp_path / "ep2", cast=CLONE_CAST, lines=[("Alice", "Other words this time, in the same voice."),
                                                       ("Bob", "And mine too."), ("Alice", "A last new line.")])
    run(tmp_path / "ep2")
    assert len(log.read_text().splitlines()) == 1                 # the second, on another worker, did not
    stats = VoiceCache(redis_server.url).stats()
    assert stats["conditioning:puts"] == 1 and stats["conditioning:hits"] >= 1
    assert stats["embedding:puts"] == 1 and stats["embedding:hits"] >= 3    # both workers and the second job
    for cache in ("cache-a", "cache-b"):                          # no worker embedded the clip itself
        assert not list((tmp_path / cache).rglob("clip-embeddings.json"))
