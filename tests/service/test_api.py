"""The HTTP API under uvicorn, a real worker and a real Redis, talked to over HTTP."""
from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time

import requests

from indextts_dub.cli import main
from support.service import episode, tree


def _auth(key):
    return {"Authorization": f"Bearer {key}"}


def _form(src, cast="cast.yaml", extra=()):
    files = [("subtitles", ("episode.srt", (src / "episode.srt").read_bytes()))]
    if cast:
        files.append(("cast", (cast, (src / "cast.yaml").read_bytes())))
    return files + list(extra)


def _wait(server, key, job, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rec = requests.get(f"{server.url}/v1/jobs/{job}", headers=_auth(key), timeout=10).json()
        if rec["state"] in ("done", "failed", "cancelled"):
            return rec
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end: {rec}")


def test_submit_uploads_follows_and_downloads_the_bytes_of_a_local_run(tmp_path, monkeypatch, api, store,
                                                                       start_worker, capsys):
    from indextts_dub import dub

    server, keys = api
    src = tmp_path / "src"
    episode(src)
    start_worker()
    got = tmp_path / "got"
    assert main(["submit", str(src / "episode.srt"), "--cast", str(src / "cast.yaml"), "--server", server.url,
                 "--key", keys["acme"], "-o", str(got)]) == 0
    out = capsys.readouterr()
    job = out.out.split()[0]
    assert "natural 7/7" in out.err and store.job(job)["state"] == "done"
    monkeypatch.chdir(src)
    dub("episode.srt", cast="cast.yaml", out=tmp_path / "local")
    local, served = tree(tmp_path / "local"), tree(got, store.out(job))
    assert sorted(served) == sorted(local) and "clips/0001_Alice.wav" in local
    assert [k for k in local if served[k] != local[k]] == []
    rec = requests.get(f"{server.url}/v1/jobs/{job}", headers=_auth(keys["acme"]), timeout=10).json()
    assert rec["progress"] == {"natural": {"done": 7, "total": 7}, "fitted": {"done": 7, "total": 7}}
    assert "callback" not in rec and "groups" not in rec and "plan.json" in rec["outputs"]


def test_keys_and_tenant_boundaries(tmp_path, api, store, start_worker):
    server, keys = api
    src = tmp_path / "src"
    episode(src)
    start_worker()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {keys['acme']}"}):
        r = requests.post(f"{server.url}/v1/jobs", headers=headers, files=_form(src), timeout=30)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert requests.get(f"{server.url}/v1/jobs", headers=headers, timeout=10).status_code == 401
    r = requests.post(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]), files=_form(src), timeout=30)
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    assert _wait(server, keys["acme"], job)["state"] == "done"
    mine = requests.get(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]), timeout=10).json()["jobs"]
    theirs = requests.get(f"{server.url}/v1/jobs", headers=_auth(keys["other"]), timeout=10).json()["jobs"]
    assert [j["id"] for j in mine] == [job] and theirs == []
    for method, path in (("GET", f"/v1/jobs/{job}"), ("GET", f"/v1/jobs/{job}/files/plan.json"),
                         ("DELETE", f"/v1/jobs/{job}"), ("GET", "/v1/jobs/" + "0" * 32)):
        r = requests.request(method, server.url + path, headers=_auth(keys["other"]), timeout=10)
        assert r.status_code == 404, (method, path, r.status_code)
    ok = requests.get(f"{server.url}/v1/jobs/{job}/files/plan.json", headers=_auth(keys["acme"]), timeout=10)
    assert ok.status_code == 200 and ok.content == (store.out(job) / "plan.json").read_bytes()
    for bad in ("../job.json", "..%2Fjob.json", "%2E%2E/job.json", ".indextts-dub.lock", "clips/../../job.json",
                "nothing.wav", "/etc/passwd"):
        r = requests.get(f"{server.url}/v1/jobs/{job}/files/{bad}", headers=_auth(keys["acme"]), timeout=10)
        assert r.status_code == 404, (bad, r.status_code)


def test_every_bad_upload_is_refused_and_leaves_no_job(tmp_path, api, store):
    server, keys = api
    src = tmp_path / "src"
    episode(src, cast="engine: toy\ncharacters:\n  Alice: toy:high\n  Bob: toy:nobody\n")
    post = (lambda **kw: requests.post(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]), timeout=30, **kw))
    r = post(files=_form(src))
    assert r.status_code == 422
    assert any(e.startswith("cast.yaml:4: characters.Bob") for e in r.json()["errors"]), r.json()
    episode(src)
    cases = {
        "no subtitles": dict(files=[("cast", ("cast.yaml", b"engine: toy\n"))]),
        "escaping name": dict(files=[("subtitles", ("../../x.srt", b"1\n"))]),
        "absolute name": dict(files=[("subtitles", ("/tmp/x.srt", b"1\n"))]),
        "hidden name": dict(files=_form(src, extra=[("file", (".indextts-dub.lock", b"x"))])),
        "unknown field": dict(files=_form(src, extra=[("script", ("a.txt", b"x"))])),
        "unknown option": dict(files=_form(src), data={"options": json.dumps({"fly": True})}),
        "bad option": dict(files=_form(src), data={"options": json.dumps({"speed_max": "fast"})}),
        "options not JSON": dict(files=_form(src), data={"options": "{fill"}),
        "bad callback": dict(files=_form(src), data={"callback": "file:///etc/passwd"}),
        "broken subtitles": dict(files=[("subtitles", ("episode.srt", b"\x00\x01garbage"))]),
    }
    for what, kw in cases.items():
        r = post(**kw)
        assert r.status_code == 422, (what, r.status_code, r.text)
        assert r.json()["errors"], what
    big = post(files=_form(src, extra=[("video", ("clip.mp4", b"\0" * 400_000))]))
    assert big.status_code == 413
    r = post(json={"subtitles": "../../etc/passwd"})
    assert r.status_code == 422 and "subtitles" in r.text
    assert store.jobs() == [] and list((store.root / "jobs").iterdir()) == []


def test_a_job_naming_files_in_the_store(tmp_path, api, store, start_worker):
    server, keys = api
    episode(store.root / "files" / "acme" / "ep1")
    start_worker()
    r = requests.post(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]), timeout=30,
                      json={"subtitles": "ep1/episode.srt", "cast": "ep1/cast.yaml", "options": {"fill": True}})
    assert r.status_code == 202, r.text
    assert _wait(server, keys["acme"], r.json()["id"])["state"] == "done"
    other = requests.post(f"{server.url}/v1/jobs", headers=_auth(keys["other"]), timeout=30,
                          json={"subtitles": "ep1/episode.srt"})
    assert other.status_code == 422                     # another tenant's files are not there for it


class _Hook(http.server.BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_the_callback_is_signed_and_cancel_stops_a_job(tmp_path, api, store, start_worker):
    server, keys = api
    src = tmp_path / "src"
    episode(src)
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/done"
    try:
        start_worker(TOY_ENGINE_DELAY="0.3")
        post = (lambda: requests.post(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]), files=_form(src),
                                      data={"callback": url}, timeout=30).json()["id"])
        job = post()
        assert _wait(server, keys["acme"], job)["state"] == "done"
        cancelled = post()
        r = requests.delete(f"{server.url}/v1/jobs/{cancelled}", headers=_auth(keys["acme"]), timeout=10)
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        assert _wait(server, keys["acme"], cancelled)["state"] == "cancelled"
        r = requests.get(f"{server.url}/v1/jobs/{cancelled}/files/plan.json", headers=_auth(keys["acme"]), timeout=10)
        assert r.status_code == 404
        end = time.monotonic() + 10
        while len(_Hook.got) < 2 and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        hook.shutdown()
    secret = hashlib.sha256(keys["acme"].encode()).hexdigest().encode()
    states = {}
    for headers, body in _Hook.got:
        sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Indextts-Dub-Signature"], sig)
        states[json.loads(body)["id"]] = json.loads(body)["state"]
    assert states == {job: "done", cancelled: "cancelled"}
