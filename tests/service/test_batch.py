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
