"""``indextts-dub batch jobs.yaml``: many episodes, one engine; here or through the queue."""
from __future__ import annotations

from indextts_dub.cli import main
from support.service import episode, tree

JOBS = """\
defaults:
  cast: ep1/cast.yaml
episodes:
  - input: ep1/episode.srt
    output: out/ep1
  - folder: season/
    output: out/season
    fill: true
"""


def _episodes(tmp_path):
    episode(tmp_path / "ep1")
    episode(tmp_path / "season", lines=[("Alice", "A second episode."), ("Bob", "With two lines.")])
    (tmp_path / "season" / "cast.yaml").unlink()
    (tmp_path / "season" / "episode.srt").rename(tmp_path / "season" / "s01e02.srt")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(JOBS, encoding="utf-8")
    return jobs


def test_a_batch_runs_every_episode_with_one_engine(tmp_path, toy_engine, capsys):
    from indextts_dub import dub, engines

    jobs = _episodes(tmp_path)
    assert main(["batch", str(jobs), "-q"]) == 0
    assert "2 of 2 episodes dubbed" in capsys.readouterr().out
    engine = engines.load("toy")
    assert {c.text for c in engine.calls} >= {"Good morning, everyone.", "A second episode."}   # one engine spoke both
    alone = tmp_path / "alone"
    dub(tmp_path / "season" / "s01e02.srt", cast=tmp_path / "ep1" / "cast.yaml", out=alone, fill=True)
    assert tree(tmp_path / "out" / "season" / "s01e02") == tree(alone)
    assert (tmp_path / "out" / "ep1" / "plan.json").is_file()


def test_a_bad_batch_file_names_line_and_field_and_writes_nothing(tmp_path, toy_engine, capsys):
    jobs = _episodes(tmp_path)
    jobs.write_text(JOBS.replace("output: out/ep1", "output: out/ep1\n    speed_max: fast")
                    .replace("folder: season/", "folder: nowhere/") + "  - input: ep1/missing.srt\n    output: out/x\n", encoding="utf-8")
    assert main(["batch", str(jobs)]) == 2
    err = capsys.readouterr().err
    assert f"{jobs}:6: episodes[0].speed_max: must be a number" in err
    assert f"{jobs}:7: episodes[1].folder: no subtitle file" in err
    assert f"{jobs}:10: episodes[2].input: file not found: ep1/missing.srt" in err
    assert not (tmp_path / "out").exists()


def test_a_batch_through_the_queue_writes_what_a_local_batch_does(tmp_path, toy_engine, redis_server, store,
                                                                  start_worker, capsys):
    jobs = _episodes(tmp_path)
    start_worker()
    assert main(["batch", str(jobs), "--broker", redis_server.url, "--store", str(store.root), "-q"]) == 0
    assert "2 of 2 episodes dubbed" in capsys.readouterr().out
    queued = {k: tree(tmp_path / "out" / k) for k in ("ep1", "season/s01e02")}
    assert main(["batch", str(jobs), "-q"]) == 0
    for k, files in queued.items():
        local = tree(tmp_path / "out" / k)
        assert sorted(files) == sorted(local)
        audio = [f for f in local if f.endswith((".wav", ".png"))]
        assert audio and all(files[f] == local[f] for f in audio)


REF_CAST = "engine: toy\ncharacters:\n  Alice:\n    voice: {ref: mei.wav}\n  Bob: toy:low\n"


def test_a_batch_through_the_queue_clones_only_voices_with_consent_on_record(tmp_path, toy_engine, redis_server,
                                                                              store, start_worker, capsys):
    """The server's consent check holds for ``batch --broker`` too: a reference clip that is none
    of the tenant's registered voices is refused with the API's message, exit 2, and nothing of
    the batch (not even its good episodes) is queued or left in the store."""
    import redis

    from indextts_dub.voices.library import Library, consent_record
    from test_voices import CONSENT, MEI

    jobs = _episodes(tmp_path)
    (tmp_path / "ep1" / "mei.wav").write_bytes(MEI.read_bytes())
    (tmp_path / "ep1" / "cast.yaml").write_text(REF_CAST, encoding="utf-8")
    jobs.write_text(JOBS.replace("    fill: true\n", "    fill: true\n    cast: season/own.yaml\n"), encoding="utf-8")
    (tmp_path / "season" / "own.yaml").write_text("engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: toy:low\n")
    cast = tmp_path / "ep1" / "cast.yaml"
    args = ["batch", str(jobs), "--broker", redis_server.url, "--store", str(store.root), "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (f"error: {cast}:4: characters.Alice.voice.ref: mei.wav clones a voice whose consent is not on record "
            "on this server: register it first") in err, err
    assert "nothing queued" in err
    assert store.jobs() == [] and not (tmp_path / "out").exists()
    assert redis.Redis.from_url(redis_server.url).llen("celery") == 0        # not even the good episode

    # a casting file's own library is the client's record, not the server's: refused as well
    cast.write_text("engine: toy\nvoice_library: lib.sqlite\ncharacters:\n  Alice:\n    voice: {library: mei}\n")
    Library(tmp_path / "ep1" / "lib.sqlite", write=True).close()
    assert main(args) == 2
    assert f"error: {cast}:2: voice_library: a job on the server uses its tenant's registered voices" in \
        capsys.readouterr().err
    assert store.jobs() == []

    # the tenant registers that very clip (its consent on record in the store): the batch runs
    with Library(store.library("local"), write=True) as lib:
        lib.add("mei", MEI, consent_record("mei", CONSENT["consent"], CONSENT["by"], CONSENT["for"], CONSENT["date"]))
    cast.write_text(REF_CAST, encoding="utf-8")
    start_worker()
    assert main(args) == 0, capsys.readouterr().err
    assert "2 of 2 episodes dubbed" in capsys.readouterr().out
    assert (tmp_path / "out" / "ep1" / "plan.json").is_file()
