"""report.html in a real headless Chromium (Debian's ``chromium``), driven over the DevTools
protocol: the page loads offline from disk, draws one lane per character with every clip,
its script runs, the console stays clean, and a screenshot is saved."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support.paths import write
from indextts_dub.pipeline import dub

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (tests/setup-debian.sh)")

SRT = ("1\n00:00:00,500 --> 00:00:02,000\nAlice: Hello there.\n\n"
       "2\n00:00:02,100 --> 00:00:04,000\n王老师: 你好，我们开始吧。\n\n"
       "3\n00:00:04,200 --> 00:00:05,000\nAlice: This line is far too long for its little slot, really.\n\n"
       "4\n00:00:05,300 --> 00:00:07,000\nMei: 好的。\n\n"
       "5\n00:00:07,100 --> 00:00:09,000\nAlice: And one more, a little long.\n")
CAST = "engine: toy\ncharacters:\n  Alice: toy:high\n  王老师: low\n  Mei: high\n"


class Browser:
    """Headless Chromium and one DevTools websocket (websocket-client)."""

    def __init__(self, profile: Path):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start: " + self.proc.stderr.read().decode("utf-8", "replace")[-2000:])
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        import urllib.request

        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        import websocket

        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def eval(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_report_renders_lanes_without_console_errors(tmp_path, toy_engine):
    out = tmp_path / "out"
    res = dub(write(tmp_path / "ep.srt", SRT), cast=write(tmp_path / "cast.yaml", CAST), out=out)
    report = out / "report.html"
    browser = Browser(tmp_path / "profile")
    try:
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            browser.call(domain)
        browser.call("Page.navigate", url=report.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        assert browser.eval("document.body.dataset.ready") == "1"          # the page's script ran
        lanes = browser.eval("""Array.from(document.querySelectorAll('svg.timeline g.lane')).map(g => {
            const r = g.getBoundingClientRect();
            return {name: g.dataset.character, h: r.height, w: r.width,
                    clips: g.querySelectorAll('rect.speech').length, cues: g.querySelectorAll('rect.cue').length};
        })""")
        assert [x["name"] for x in lanes] == ["Alice", "王老师", "Mei"]
        assert all(x["h"] > 20 and x["w"] > 500 for x in lanes)
        assert [x["clips"] for x in lanes] == [3, 1, 1] and [x["cues"] for x in lanes] == [3, 1, 1]
        bars = browser.eval("""Array.from(document.querySelectorAll('rect.speech')).map(r => {
            const b = r.getBoundingClientRect(); return [b.width, b.height, getComputedStyle(r).fill]; })""")
        assert all(w > 1 and h > 5 for w, h, _ in bars)
        assert len({fill for _, _, fill in bars}) >= 2                    # coloured by speed
        rows = browser.eval("document.querySelectorAll('tbody tr').length")
        players = browser.eval("Array.from(document.querySelectorAll('tbody audio')).map(a => a.getAttribute('src'))")
        assert rows == 5 and players == [f"clips/{c.line.index:04d}_{c.line.character}.wav" for c in res.clips]
        assert all((out / p).is_file() for p in players)
        # clicking a clip selects its row
        browser.eval("document.querySelector('rect.speech[data-line=\"3\"]').dispatchEvent(new MouseEvent('click'))")
        assert browser.eval("document.querySelector('tr.on').dataset.line") == "3"
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = tmp_path / "report.png"
        png.write_bytes(base64.b64decode(shot["data"]))
        assert png.stat().st_size > 10_000
        errors = [ev for ev in browser.events
                  if (ev.get("method") == "Runtime.exceptionThrown")
                  or (ev.get("method") == "Runtime.consoleAPICalled" and ev["params"]["type"] in ("error", "assert"))
                  or (ev.get("method") == "Log.entryAdded" and ev["params"]["entry"]["level"] == "error")]
        assert errors == []
    finally:
        browser.close()
    print(f"screenshot: {png}")
