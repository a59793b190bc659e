"""The service's real parts for tests: a redis-server on a free port, Celery workers as separate
processes (``indextts-dub worker``), the API under uvicorn. Each is started and stopped by the
test that needs it; none is mocked."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REDIS = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what} did not come up within {timeout} s\n{tail}")


class RedisServer:
    """``redis-server`` bound to 127.0.0.1 on a free port, no persistence, in its own folder."""

    def __init__(self, folder: Path):
        assert REDIS, "redis-server is not installed (tests/setup-debian.sh installs it)"
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> "RedisServer":
        log = self.folder / "redis.log"
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self.ping, 20, "redis-server", self.proc, log)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def child_env(extra_path: list[str] | None = None, **env: str) -> dict[str, str]:
    out = dict(os.environ)
    tests = str(Path(__file__).resolve().parents[1])
    out["PYTHONPATH"] = os.pathsep.join([*(extra_path or []), tests, out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.update(env)
    return out


class Worker:
    """``indextts-dub worker`` as a separate process (its own process group)."""

    def __init__(self, broker: str, store: Path, log: Path, concurrency: int = 1, env: dict | None = None,
                 extra: list[str] | None = None):
        self.log = log
        self.fh = open(log, "ab")
        cmd = [sys.executable, "-m", "indextts_dub", "worker", "--broker", broker, "--store", str(store),
               "--concurrency", str(concurrency), "--loglevel", "INFO", *(extra or [])]
        self.proc = subprocess.Popen(cmd, stdout=self.fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _wait(lambda: b"ready." in log.read_bytes(), 120, "the worker", self.proc, log)

    def children(self) -> list[int]:
        """The pool processes (they run the tasks)."""
        out = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            kids = (task / "children").read_text().split()
            out += [int(k) for k in kids]
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.fh.close()


SRT_LINES = [("Alice", "Good morning, everyone."), ("Bob", "Morning. Did you sleep well?"),
             ("Alice", "Not really, the storm kept me up."), ("Bob", "Yes."), ("Alice", "Shall we start?"),
             ("Bob", "Yes."), ("Alice", "This one is much too long for the short slot it was given, sorry.")]
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: toy:low\n"


def episode(folder: Path, lines=SRT_LINES, cast: str = CAST) -> tuple[Path, Path]:
    """A short episode (two lines say the same thing in the same voice) and its casting file."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks, t = [], 500
    for i, (who, text) in enumerate(lines, start=1):
        d = 900 if i == len(lines) else 1800
        blocks.append(f"{i}\n00:00:{t // 1000:02d},{t % 1000:03d} --> 00:00:{(t + d) // 1000:02d},{(t + d) % 1000:03d}"
                      f"\n{who}: {text}\n")
        t += d + 400
    srt = folder / "episode.srt"
    srt.write_text("\n".join(blocks), encoding="utf-8")
    cast_file = folder / "cast.yaml"
    cast_file.write_text(cast, encoding="utf-8")
    return srt, cast_file


def tree(folder: Path, *also: Path) -> dict[str, bytes]:
    """Every file of an output folder (not the hidden ones) -> its bytes, with the folder's own
    path (which editor timelines name their media by), and those of ``also``, replaced by a
    placeholder, and plan.json without the seconds its run took (``summary.engine_seconds``,
    ``summary.stage_seconds``: two local runs differ there too)."""
    out = {}
    root = folder.resolve()
    roots = [root, *(Path(a).resolve() for a in also)]
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if f.is_file() and not any(p.startswith(".") for p in rel.parts):
            data = f.read_bytes()
            for r in roots:
                for form in (r.as_uri().encode(), str(r).encode()):
                    data = data.replace(form, b"<OUT>")
            if rel.as_posix() == "plan.json":       # what the run cost in time differs run to run
                import json

                doc = json.loads(data)
                for key in ("engine_seconds", "stage_seconds"):
                    doc.get("summary", {}).pop(key, None)
                data = json.dumps(doc, sort_keys=True).encode()
            out[rel.as_posix()] = data
    return out


class Server:
    """``indextts-dub serve`` (uvicorn) as a separate process on a free port."""

    def __init__(self, broker: str, store: Path, keys: Path, log: Path, env: dict | None = None,
                 extra: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.fh = open(log, "ab")
        cmd = [sys.executable, "-m", "indextts_dub", "serve", "--broker", broker, "--store", str(store),
               "--keys", str(keys), "--port", str(self.port), *(extra or [])]
        self.proc = subprocess.Popen(cmd, stdout=self.fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)

        def up() -> bool:
            import requests

            try:
                return requests.get(self.url + "/openapi.json", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        _wait(up, 60, "the server", self.proc, log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.fh.close()
