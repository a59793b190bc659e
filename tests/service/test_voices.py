"""Registered voices over HTTP: consent on record, the deny list, tenants, and jobs that name them."""
from __future__ import annotations

import time

import requests

from support.paths import DEMO
from support.service import episode, tree

MEI = DEMO / "voices" / "mei.wav"
CONSENT = {"consent": "I agree that my recorded voice is used to dub this series.", "by": "Mei Chen",
           "for": "series dub", "date": "2026-11-20"}


def _auth(key):
    return {"Authorization": f"Bearer {key}"}


def _register(server, key, name, clip=MEI, data=None, **fields):
    form = {"name": name, **CONSENT, **fields} if data is None else data
    return requests.post(f"{server.url}/v1/voices", headers=_auth(key), data=form,
                         files={"clip": (clip.name, clip.read_bytes())}, timeout=120)


def _wait(server, key, job, timeout=180):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rec = requests.get(f"{server.url}/v1/jobs/{job}", headers=_auth(key), timeout=10).json()
        if rec["state"] in ("done", "failed", "cancelled"):
            return rec
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end: {rec}")


def test_a_voice_is_registered_with_its_consent_per_tenant_and_refused_when_denied(tmp_path, api, store):
    from indextts_dub.voices.library import Library

    server, keys = api
    url = f"{server.url}/v1/voices"
    r = _register(server, keys["acme"], "mei")
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["id"] == "mei" and v["original_name"] == "mei.wav" and 3 <= v["seconds"] <= 15
    assert v["consent"] == {"who": "Mei Chen", "when": "2026-11-20", "for": "series dub",
                            "statement": CONSENT["consent"]}
    with Library(store.library("acme")) as lib:                  # the record is the local library's
        assert lib.get("mei").consent.who == "Mei Chen"
    assert [x["id"] for x in requests.get(url, headers=_auth(keys["acme"]), timeout=10).json()["voices"]] == ["mei"]
    assert requests.get(url, headers=_auth(keys["other"]), timeout=10).json() == {"voices": []}
    assert requests.get(url, timeout=10).status_code == 401
    for method in ("GET", "DELETE"):                             # another tenant's voice is not there for it
        assert requests.request(method, f"{url}/mei", headers=_auth(keys["other"]), timeout=10).status_code == 404
    assert requests.get(f"{url}/mei", headers=_auth(keys["acme"]), timeout=10).json()["clip_hash"] == v["clip_hash"]

    def refused(r, field, words):
        assert r.status_code == 422, (field, r.status_code, r.text)
        problems = r.json()["problems"]
        assert any(p["field"] == field and words in p["message"] for p in problems), (field, problems)
        assert str(store.root) not in r.text

    refused(_register(server, keys["acme"], "mei"), "name", "already")
    refused(_register(server, keys["acme"], "x", data={"name": "x", "by": "X"}), "consent", "consent record")
    refused(_register(server, keys["acme"], "x", date="last week"), "date", "not a date")
    refused(_register(server, keys["acme"], "x", date="2999-01-01"), "date", "in the future")
    refused(_register(server, keys["acme"], "x", nickname="y"), "nickname", "unknown form field")
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio at all" * 100)
    r = _register(server, keys["acme"], "x", clip=junk)
    refused(r, "clip", "")
    assert r.json()["problems"][0]["file"] == "notes.wav"
    r = requests.post(url, headers=_auth(keys["acme"]), data={"name": "x", **CONSENT}, timeout=10)
    refused(r, "clip", "as a file")
    big = requests.post(url, headers=_auth(keys["acme"]), data={"name": "x", **CONSENT},
                        files={"clip": ("big.wav", b"\0" * (21 * 1024 ** 2))}, timeout=60)
    assert big.status_code == 413

    # the operator denies the voice: nobody may register it any more (nor use it, see below)
    with Library(store.deny_list, write=True) as deny:
        deny.deny("Famous Anchor", MEI, "public figure")
    refused(_register(server, keys["other"], "anchor"), "clip", "too similar to the denied voice 'Famous Anchor'")
    assert requests.get(url, headers=_auth(keys["other"]), timeout=10).json() == {"voices": []}

    r = requests.delete(f"{url}/mei", headers=_auth(keys["acme"]), timeout=10)
    assert r.status_code == 200 and r.json() == {"id": "mei", "deleted": True}
    assert requests.get(f"{url}/mei", headers=_auth(keys["acme"]), timeout=10).status_code == 404
    assert requests.get(url, headers=_auth(keys["acme"]), timeout=10).json() == {"voices": []}
    assert not any((store.root / "voices" / "uploads").iterdir())          # no upload left behind


LIBRARY_CAST = "engine: toy\ncharacters:\n  Alice:\n    voice: {library: mei}\n  Bob: toy:low\n"
REF_CAST = "engine: toy\ncharacters:\n  Alice:\n    voice: {ref: voices/mei.wav}\n  Bob: toy:low\n"


def _job(server, key, src, clips=()):
    files = [("subtitles", ("episode.srt", (src / "episode.srt").read_bytes())),
             ("cast", ("cast.yaml", (src / "cast.yaml").read_bytes()))]
    files += [("file", (name, data)) for name, data in clips]
    return requests.post(f"{server.url}/v1/jobs", headers=_auth(key), files=files, timeout=120)


def test_jobs_use_the_callers_registered_voices_and_clone_only_with_consent(tmp_path, monkeypatch, api, store,
                                                                             start_worker):
    from indextts_dub import dub
    from indextts_dub.voices.library import Library, consent_record

    from indextts_dub.service.client import Client

    server, keys = api
    acme = Client(server.url, keys["acme"])
    assert acme.add_voice("mei", MEI, CONSENT["consent"], CONSENT["by"], CONSENT["for"], CONSENT["date"])["id"] == "mei"
    assert [v["name"] for v in acme.voices()] == ["mei"]
    start_worker()
    src = tmp_path / "src"
    episode(src, cast=LIBRARY_CAST)
    r = _job(server, keys["acme"], src)
    assert r.status_code == 202, r.text
    rec = _wait(server, keys["acme"], r.json()["id"])
    assert rec["state"] == "done", rec.get("errors")
    # a local run with the same voice in a local library writes the same bytes
    local_lib = tmp_path / "local.sqlite"
    with Library(local_lib, write=True) as lib:
        lib.add("mei", MEI, consent_record("mei", CONSENT["consent"], CONSENT["by"], CONSENT["for"], CONSENT["date"]))
    monkeypatch.chdir(src)
    dub("episode.srt", cast="cast.yaml", out=tmp_path / "local", library=local_lib)
    assert tree(store.out(rec["id"])) == tree(tmp_path / "local")
    assert b'"entry": "mei"' in tree(tmp_path / "local")["plan.json"]

    # another tenant's job cannot name acme's voice
    r = _job(server, keys["other"], src)
    assert r.status_code == 422
    assert any(e.startswith("cast.yaml:4: characters.Alice.voice") and "no voice named 'mei'" in e
               for e in r.json()["errors"]), r.json()
    assert str(store.root) not in r.text

    # a reference clip clones a voice: taken only when the tenant registered that very clip
    episode(src, cast=REF_CAST)
    clip = [("voices/mei.wav", MEI.read_bytes())]
    r = _job(server, keys["acme"], src, clip)
    assert r.status_code == 202, r.text
    assert _wait(server, keys["acme"], r.json()["id"])["state"] == "done"
    r = _job(server, keys["other"], src, clip)
    assert r.status_code == 422
    assert any(e.startswith("cast.yaml:4: characters.Alice.voice.ref") and "consent is not on record" in e
               for e in r.json()["errors"]), r.json()

    # nor may a casting file bring a library of its own or reach outside the job's uploads
    episode(src, cast=f"engine: toy\nvoice_library: lib.sqlite\ncharacters:\n  Alice:\n    voice: {{library: mei}}\n")
    Library(tmp_path / "own.sqlite", write=True).close()
    r = _job(server, keys["other"], src, [("lib.sqlite", (tmp_path / "own.sqlite").read_bytes())])
    assert r.status_code == 422 and any("cast.yaml:2: voice_library" in e for e in r.json()["errors"]), r.text
    episode(src, cast=f"engine: toy\ncharacters:\n  Alice:\n    voice: {{ref: {MEI}}}\n")
    r = _job(server, keys["acme"], src)
    assert r.status_code == 422 and any("outside the job's uploads" in e for e in r.json()["errors"]), r.text

    # a registered voice the operator denies later is refused in jobs too
    with Library(store.deny_list, write=True) as deny:
        deny.deny("Withdrawn", MEI, "consent withdrawn")
    episode(src, cast=LIBRARY_CAST)
    r = _job(server, keys["acme"], src)
    assert r.status_code == 422 and any("denied voice 'Withdrawn'" in e for e in r.json()["errors"]), r.text
    assert [j["state"] for j in requests.get(f"{server.url}/v1/jobs", headers=_auth(keys["acme"]),
                                             timeout=10).json()["jobs"]] == ["done", "done"]


def test_the_voices_command_manages_a_servers_voices(tmp_path, monkeypatch, api, capsys):
    """``indextts-dub voices add/list/show/remove --server URL``: the caller's voices over HTTP,
    the key from --key or $INDEXTTS_DUB_KEY; the server's refusals as messages naming the flag or
    the clip (exit 2), an unreachable server or a refused key in one line (exit 3); no traceback."""
    from indextts_dub.cli import main
    from support.service import free_port

    server, keys = api
    on = ["--server", server.url]
    consent = ["--consent", CONSENT["consent"], "--by", CONSENT["by"], "--for", CONSENT["for"]]

    def run(*argv, code=0):
        got = main(list(argv))
        out, err = capsys.readouterr()
        assert got == code, (argv, got, out, err)
        assert "Traceback" not in err
        return out, err

    out, _ = run("voices", "add", "mei", str(MEI), *consent, "--date", CONSENT["date"], *on, "--key", keys["acme"])
    assert out.startswith("added mei: ") and "consent by Mei Chen (2026-11-20) for series dub" in out
    monkeypatch.setenv("INDEXTTS_DUB_KEY", keys["acme"])
    out, _ = run("voices", "list", *on)
    assert out.startswith("mei ") and "consent: Mei Chen, 2026-11-20, for series dub" in out
    out, _ = run("voices", "show", "mei", *on)
    assert f"statement:   {CONSENT['consent']}" in out and "from mei.wav" in out
    assert run("voices", "list", *on, "--key", keys["other"])[0] == f"no voices on {server.url}\n"

    # the server's refusals: the flag, the clip by the path given, exit 2
    _, err = run("voices", "add", "mei", str(MEI), *consent, *on, code=2)
    assert err == ("error: <input>: NAME: a voice named 'mei' is already in the library; remove it first or "
                   "pass --replace\n")
    _, err = run("voices", "add", "x", str(MEI), *consent, "--date", "last week", *on, code=2)
    assert "--date: 'last week' is not a date" in err, err
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"not audio at all" * 100)
    _, err = run("voices", "add", "x", str(junk), *consent, *on, code=2)
    assert err.startswith(f"error: {junk}: clip: "), err
    _, err = run("voices", "show", "nobody", *on, code=2)
    assert f"error: <input>: NAME: no voice named 'nobody' on {server.url}" in err
    _, err = run("voices", "remove", "nobody", *on, code=2)
    assert "no voice named 'nobody'" in err
    _, err = run("voices", "list", *on, "--library", str(tmp_path / "lib.sqlite"), code=2)
    assert "--server or --library" in err

    # the server or the key: exit 3, one line
    _, err = run("voices", "list", *on, "--key", "not-a-key", code=3)
    assert err.startswith("error: service: GET /v1/voices: 401") and err.count("\n") == 1
    _, err = run("voices", "list", "--server", f"http://127.0.0.1:{free_port()}", code=3)
    assert err.startswith("error: service: cannot reach") and err.count("\n") == 1
    monkeypatch.delenv("INDEXTTS_DUB_KEY")
    _, err = run("voices", "list", *on, code=2)
    assert "--key" in err and "INDEXTTS_DUB_KEY" in err

    out, _ = run("voices", "remove", "mei", *on, "--key", keys["acme"])
    assert out.startswith("removed mei from ")
    assert run("voices", "list", *on, "--key", keys["acme"])[0] == f"no voices on {server.url}\n"
