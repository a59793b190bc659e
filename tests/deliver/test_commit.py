"""The output commit (fsio.Staging): files move, folders never swap; a manifest says what a run
owns; a journal makes every step recoverable; the lock stays exclusive. Issue 12's data-loss cases."""
from __future__ import annotations

import builtins
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from indextts_dub import fsio
from indextts_dub.errors import DubError, SystemFault


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` but the run's own hidden ones, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".indextts-dub")
            and not any(part.startswith(".indextts-dub") for part in p.relative_to(folder).parts)}


def run(out: Path, files: dict[str, bytes], **kw) -> list[Path]:
    st = fsio.Staging(out, **kw)
    try:
        for rel, data in files.items():
            st.path(rel).write_bytes(data)
        return st.commit()
    except BaseException:
        st.abort()
        raise


FIRST = {"clips/0001_Alice.wav": b"a1", "clips/0002_Bob.wav": b"b1", "stems/Alice.wav": b"sa1",
         "dub.wav": b"mix1", "dubbed.mp4": b"video1", "editor/premiere.xml": b"x1", "retime.json": b"r1",
         "background.wav": b"bg1", "plan.json": b"p1"}
SECOND = {"clips/0001_Alice.wav": b"a2", "stems/Alice.wav": b"sa2", "dub.flac": b"mix2", "plan.json": b"p2"}
USERS = {"clips/mei_excited.wav": b"the user's clip", "stems/notes.txt": b"mine", "editor/my.prproj": b"project",
         "episode.srt": b"1\n...", "thesis.docx": b"words"}


def user_files(folder: Path) -> None:
    for rel, data in USERS.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def test_the_users_files_in_the_output_folder_survive(tmp_path):
    out = tmp_path / "project"
    user_files(out)
    run(out, FIRST)
    assert tree(out) == {**USERS, **FIRST}
    run(out, FIRST)
    assert tree(out) == {**USERS, **FIRST}


def test_what_the_previous_run_owned_and_this_one_does_not_make_is_removed(tmp_path):
    out = tmp_path / "out"
    user_files(out)
    run(out, FIRST)
    run(out, SECOND)
    assert tree(out) == {**USERS, **SECOND}          # old dubbed.mp4, dub.wav, retime.json, background.wav gone
    assert json.loads((out / fsio.MANIFEST).read_text())["files"] == sorted(SECOND)
    assert (out / "editor").is_dir()                  # it holds the user's project
    os.unlink(out / "editor/my.prproj")
    run(out, FIRST)
    run(out, SECOND)
    assert not (out / "editor").exists()              # emptied of what the runs made: gone


def test_dot_and_an_empty_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_files(tmp_path)
    run(Path("."), FIRST)
    run(Path("."), SECOND)
    assert tree(tmp_path) == {**USERS, **SECOND}
    with pytest.raises(DubError, match="--output: is empty"):
        fsio.Staging("")


def test_a_symlinked_folder_is_refused_before_anything_moves(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    run(out, FIRST)
    before = tree(out)
    elsewhere.mkdir()
    (elsewhere / "keep.wav").write_bytes(b"keep")
    os.rename(out / "stems", tmp_path / "old-stems")
    os.symlink(elsewhere, out / "stems")
    with pytest.raises(DubError, match="out/stems: --output: is a symbolic link"):
        run(out, SECOND)
    assert tree(elsewhere) == {"keep.wav": b"keep"}
    assert {k: v for k, v in tree(out).items() if not k.startswith("stems/")} == \
        {k: v for k, v in before.items() if not k.startswith("stems/")}
    assert not list(out.glob(".indextts-dub-staging-*")) and not (out / fsio.JOURNAL).exists()


def test_a_symlinked_output_folder_itself_is_written_through(tmp_path):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    os.symlink(real, link)
    run(link, FIRST)
    assert tree(real) == FIRST


def test_a_folder_where_a_file_goes_is_refused(tmp_path):
    out = tmp_path / "out"
    run(out, FIRST)
    before = tree(out)
    (out / "dub.flac").mkdir()
    with pytest.raises(DubError, match="dub.flac: --output: is a folder where the run writes a file"):
        run(out, SECOND)
    assert tree(out) == before


def _chattr(flag: str, path: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def test_an_immutable_output_is_refused_before_anything_moves(tmp_path):
    out = tmp_path / "out"
    run(out, FIRST)
    before = tree(out)
    if not _chattr("+i", out / "stems/Alice.wav"):
        pytest.skip("chattr +i is not permitted here (needs root on a file system with attributes)")
    try:
        with pytest.raises(DubError, match="Alice.wav: --output: is immutable"):
            run(out, SECOND)
        assert tree(out) == before
    finally:
        _chattr("-i", out / "stems/Alice.wav")


# ---------------------------------------------------------------- every step failing in turn

class Fault(OSError):
    pass


class Crash(BaseException):
    """The process dies here: nothing after it runs (no roll back)."""


def _inject(monkeypatch, out: Path, k: int, exc) -> list[str]:
    """Make the k-th file-system step below ``out`` (rename, fsync, opening for writing, unlink,
    mkdir) fail with ``exc``; returns the steps seen."""
    seen: list[str] = []
    real = {"replace": os.replace, "rename": os.rename, "fsync": os.fsync, "unlink": os.unlink,
            "mkdir": os.mkdir, "open": builtins.open}

    def step(name: str) -> None:
        seen.append(name)
        if len(seen) == k:
            raise exc(f"injected fault at step {k} ({name})")

    def mine(path) -> bool:
        return str(out) in os.fspath(path) if isinstance(path, (str, os.PathLike)) else True

    monkeypatch.setattr(os, "replace", lambda a, b, **kw: (step("replace") if mine(b) else None, real["replace"](a, b, **kw))[1])
    monkeypatch.setattr(os, "rename", lambda a, b, **kw: (step("rename") if mine(b) else None, real["rename"](a, b, **kw))[1])
    monkeypatch.setattr(os, "fsync", lambda fd: (step("fsync"), real["fsync"](fd))[1])
    monkeypatch.setattr(os, "unlink", lambda p, **kw: (step("unlink") if mine(p) else None, real["unlink"](p, **kw))[1])
    monkeypatch.setattr(os, "mkdir", lambda p, *a, **kw: (step("mkdir") if mine(p) else None, real["mkdir"](p, *a, **kw))[1])

    def opener(file, mode="r", *a, **kw):
        if any(c in mode for c in "wax+") and mine(file):
            step("open")
        return real["open"](file, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", opener)
    return seen


def _steps(tmp_path, monkeypatch) -> int:
    out = tmp_path / "count"
    user_files(out)
    run(out, FIRST)
    with monkeypatch.context() as m:
        seen = _inject(m, out, 0, Fault)
        run(out, SECOND)
    return len(seen)


def test_each_step_of_a_run_failing_in_turn_keeps_the_previous_outputs(tmp_path, monkeypatch):
    n = _steps(tmp_path, monkeypatch)
    assert n > 20
    for k in range(1, n + 1):
        out = tmp_path / f"fail{k}"
        user_files(out)
        run(out, FIRST)
        before = tree(out)
        with monkeypatch.context() as m:
            _inject(m, out, k, Fault)
            try:
                run(out, SECOND)
                failed = False
            except (Fault, SystemFault, DubError):
                failed = True
        after = tree(out)
        assert after in (before, {**USERS, **SECOND}), f"step {k}"
        if failed:
            assert after == before, f"step {k}: a failed run changed the outputs"
        run(out, SECOND)                                         # and the next run is whole
        assert tree(out) == {**USERS, **SECOND}, f"step {k}"
        assert not list(out.glob(".indextts-dub-staging-*")) and not (out / fsio.JOURNAL).exists()


def test_a_run_killed_at_each_step_is_finished_or_rolled_back_by_the_next(tmp_path, monkeypatch):
    n = _steps(tmp_path, monkeypatch)
    outcomes = set()
    for k in range(1, n + 1):
        out = tmp_path / f"crash{k}"
        user_files(out)
        run(out, FIRST)
        before = tree(out)
        with monkeypatch.context() as m:
            _inject(m, out, k, Crash)
            try:
                run(out, SECOND)
            except Crash:
                pass
        st = fsio.Staging(out)                                    # the next run takes the lock: recovers
        st.abort()
        after = tree(out)
        assert after in (before, {**USERS, **SECOND}), f"step {k}"
        outcomes.add("new" if after != before else "old")
        assert not list(out.glob(".indextts-dub-staging-*")) and not (out / fsio.JOURNAL).exists()
    assert outcomes == {"old", "new"}


# ---------------------------------------------------------------- the lock

def test_a_failing_first_run_never_hands_the_folder_to_two_runs(tmp_path):
    out = tmp_path / "out"
    first = fsio.Staging(out)                 # made the folder
    assert first.created_out
    got: list[fsio.Staging] = []
    waiter = threading.Thread(target=lambda: got.append(fsio.Staging(out, wait=True)))
    waiter.start()
    time.sleep(0.5)
    first.abort()                             # removes the lock file and the folder it made
    waiter.join(10)
    assert got, "the waiting run never got the folder"
    with pytest.raises(DubError, match="another indextts-dub run"):
        fsio.Staging(out)
    got[0].abort()
    fsio.Staging(out).abort()
