"""The report people look at: ``report.html`` (one self-contained file, works offline) and
``timeline.png`` (the same timeline picture).

The picture has one lane per character. In each lane a thin outlined bar is the line's
cue (its slot in the subtitles) and a filled bar is the fitted speech, coloured by the
speed a listener hears (blue slower, green natural, yellow to red faster, purple past the
bound); a red tail marks an overrun. Both files draw from one geometry, computed here.
"""
from __future__ import annotations

import html
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fsio import atomic_path, write_text
from ..timebase import SAMPLE_RATE, samples_to_ms, timecode

LANE_H = 34
LABEL_W = 130
AXIS_H = 26
PAD = 8


def speed_colour(speed: float, hi: float = 1.25, compressed: bool = False) -> str:
    """Hex colour for a tempo: blue (slower) - green (1.0) - yellow - red (at the bound) - purple (past it)."""
    if compressed or speed > hi + 1e-4:
        return "#7b2cbf"
    if speed < 1 - 1e-4:
        k = min(1.0, (1 - speed) / 0.25)
        return _lerp("#2e9d55", "#2f6fd6", k)
    k = min(1.0, (speed - 1) / max(hi - 1, 1e-6))
    return _lerp("#2e9d55", "#e6c229", k * 2) if k < 0.5 else _lerp("#e6c229", "#d1342f", (k - 0.5) * 2)


def _lerp(a: str, b: str, k: float) -> str:
    k = min(1.0, max(0.0, k))
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * k):02x}" for x, y in zip(ca, cb))


@dataclass
class Bar:
    line: int
    lane: int
    kind: str        # "cue", "speech", "overrun"
    x: float
    w: float
    y: float
    h: float
    colour: str
    title: str


@dataclass
class Picture:
    width: int
    height: int
    lanes: list[str]
    bars: list[Bar]
    ticks: list[tuple[float, str]]


def picture(rows: list[dict[str, Any]], lanes: list[str], programme: int, width: int | None = None) -> Picture:
    """Geometry of the timeline: ``rows`` are the report's line records."""
    seconds = max(programme / SAMPLE_RATE, 1e-3)
    if width is None:
        pps = min(60.0, max(4.0, 1400 / seconds))
        width = int(LABEL_W + PAD * 2 + seconds * pps)
    pps = (width - LABEL_W - PAD * 2) / seconds
    height = AXIS_H + LANE_H * len(lanes) + PAD
    lane_of = {ch: k for k, ch in enumerate(lanes)}

    def x_of(samples: int) -> float:
        return LABEL_W + PAD + samples / SAMPLE_RATE * pps

    bars: list[Bar] = []
    for r in rows:
        k = lane_of[r["character"]]
        y = AXIS_H + k * LANE_H
        label = f"{r['index']} {r['character']}: {r['text']}"
        cs, ce = r["cue"]["start"], r["cue"]["end"]
        bars.append(Bar(r["index"], k, "cue", x_of(cs), max(1.0, x_of(ce) - x_of(cs)), y + 4, LANE_H - 8,
                        "#888888", f"{label}\ncue {timecode(cs)} - {timecode(ce)}"))
        s0, s1 = r["clip"]["start"], r["clip"]["start"] + r["speech_samples"]
        over = r.get("overrun_samples", 0)
        colour = speed_colour(r["speed"], r["bounds"][1], r.get("compressed", False))
        bars.append(Bar(r["index"], k, "speech", x_of(s0), max(1.0, x_of(s1) - x_of(s0)), y + 9, LANE_H - 18, colour,
                        f"{label}\nspeech {timecode(s0)} - {timecode(s1)}, speed {r['speed']:.2f}x"))
        if over > 0:
            bars.append(Bar(r["index"], k, "overrun", x_of(s1 - over), max(1.0, x_of(s1) - x_of(s1 - over)),
                            y + 6, LANE_H - 12, "#ff0000", f"{label}\noverrun {samples_to_ms(over):.0f} ms"))
    step = _tick_step(seconds, (width - LABEL_W) / 90)
    ticks = []
    t = 0.0
    while t <= seconds + 1e-9:
        ticks.append((LABEL_W + PAD + t * pps, _clock(t)))
        t += step
    return Picture(width, height, lanes, bars, ticks)


def _tick_step(seconds: float, max_ticks: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if seconds / step <= max(max_ticks, 1):
            return float(step)
    return 3600.0


def _clock(t: float) -> str:
    t = int(round(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def svg(pic: Picture) -> str:
    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{pic.width}" height="{pic.height}" '
           f'viewBox="0 0 {pic.width} {pic.height}" role="img" aria-label="timeline">']
    out.append(f'<rect x="0" y="0" width="{pic.width}" height="{pic.height}" fill="#ffffff"/>')
    for x, label in pic.ticks:
        out.append(f'<line x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{pic.height - PAD}" stroke="#e4e4e4"/>'
                   f'<text x="{x + 2:.1f}" y="{AXIS_H - 10}" class="tick">{e(label)}</text>')
    for k, name in enumerate(pic.lanes):
        y = AXIS_H + k * LANE_H
        fill = "#f6f6f6" if k % 2 == 0 else "#ffffff"
        out.append(f'<g class="lane" data-character="{e(name)}">'
                   f'<rect x="0" y="{y}" width="{pic.width}" height="{LANE_H}" fill="{fill}"/>'
                   f'<text x="6" y="{y + LANE_H / 2 + 5:.1f}" class="lane-label">{e(name)}</text>')
        for b in (b for b in pic.bars if b.lane == k):
            if b.kind == "cue":
                out.append(f'<rect class="cue" data-line="{b.line}" x="{b.x:.2f}" y="{b.y:.1f}" width="{b.w:.2f}" '
                           f'height="{b.h:.1f}" fill="none" stroke="{b.colour}" stroke-dasharray="3 2"/>')
            else:
                out.append(f'<rect class="{b.kind}" data-line="{b.line}" x="{b.x:.2f}" y="{b.y:.1f}" '
                           f'width="{b.w:.2f}" height="{b.h:.1f}" fill="{b.colour}" rx="2">'
                           f'<title>{e(b.title)}</title></rect>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------ PNG


_CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
_LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def _font(size: int, text: str):
    from PIL import ImageFont

    for path in (_CJK_FONTS if any(ord(c) > 0x2E80 for c in text) else ()) + _LATIN_FONTS:
        if os.path.exists(path):
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def _drawable(font, text: str) -> bool:
    """False when the font would draw ``text`` with its missing-glyph box."""
    try:
        missing = font.getmask("\uffff").getbbox()
        for ch in set(text):
            if ch.isspace():
                continue
            if font.getmask(ch).getbbox() == missing and font.getmask(ch).size == font.getmask("\uffff").size:
                return False
    except Exception:
        return True
    return True


def png(pic: Picture, path: Path, max_width: int = 4000) -> Path:
    """Draw the picture with Pillow (scaled down past ``max_width``), written atomically."""
    from PIL import Image, ImageDraw

    scale = min(1.0, max_width / pic.width)
    W, H = int(pic.width * scale), pic.height
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    small = _font(11, "0:00")
    for x, label in pic.ticks:
        xs = (x - LABEL_W) * scale + LABEL_W if scale < 1 else x
        d.line([(xs, AXIS_H - 6), (xs, H - PAD)], fill="#e4e4e4")
        d.text((xs + 2, 4), label, fill="#555555", font=small)
    for k, name in enumerate(pic.lanes):
        y = AXIS_H + k * LANE_H
        d.rectangle([0, y, W, y + LANE_H - 1], fill="#f6f6f6" if k % 2 == 0 else "#ffffff")
        font = _font(13, name)
        label = name if _drawable(font, name) else f"lane {k + 1} ({name.encode('ascii', 'backslashreplace').decode()})"
        d.text((6, y + LANE_H / 2 - 8), label[:18], fill="#222222", font=font)
    for b in pic.bars:
        x0 = (b.x - LABEL_W) * scale + LABEL_W if scale < 1 else b.x
        x1 = x0 + max(1.0, b.w * scale)
        if b.kind == "cue":
            d.rectangle([x0, b.y, x1, b.y + b.h], outline=b.colour)
        else:
            d.rectangle([x0, b.y, x1, b.y + b.h], fill=b.colour)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


# ------------------------------------------------------------------ figures and the page


def jumps(rows: list[dict[str, Any]]) -> list[float]:
    """Speed changes between consecutive lines of each character."""
    by: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["clip"]["start"]):
        by.setdefault(r["character"], []).append(r)
    return [abs(b["speed"] - a["speed"]) for g in by.values() for a, b in zip(g, g[1:])]


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    speeds = [r["speed"] for r in rows]
    js = jumps(rows)
    return {
        "lines": len(rows),
        "speed_min": min(speeds, default=1.0), "speed_median": statistics.median(speeds) if speeds else 1.0,
        "speed_max": max(speeds, default=1.0),
        "natural": sum(1 for s in speeds if abs(s - 1) < 1e-3),
        "jump_median": statistics.median(js) if js else 0.0, "jump_max": max(js, default=0.0),
        "overruns": sum(1 for r in rows if r.get("overrun_samples", 0) > 0),
        "overrun_ms": sum(samples_to_ms(r.get("overrun_samples", 0)) for r in rows),
        "compressed": sum(1 for r in rows if r.get("compressed")),
        "stretch_over_5": sum(1 for r in rows if abs(r["residual_stretch"] - 1) > 0.05),
        "early": sum(1 for r in rows if r.get("lead_samples", 0) > 0),
        "spilled": sum(1 for r in rows if r.get("spill_samples", 0) > 0),
    }


def histogram(speeds: list[float], lo: float = 0.75, hi: float = 1.5, bins: int = 15) -> str:
    counts = [0] * bins
    for s in speeds:
        k = int((min(max(s, lo), hi - 1e-9) - lo) / (hi - lo) * bins)
        counts[k] += 1
    most = max(counts + [1])
    w, h, top = 22, 90, 16
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" width="{bins * w + 70}" height="{h + top + 28}">']
    for k, c in enumerate(counts):
        s = lo + (k + 0.5) * (hi - lo) / bins
        bh = h * c / most
        parts.append(f'<rect x="{20 + k * w}" y="{h - bh + top:.1f}" width="{w - 3}" height="{bh:.1f}" '
                     f'fill="{speed_colour(s, 1.25)}"><title>{lo + k * (hi - lo) / bins:.2f}-'
                     f'{lo + (k + 1) * (hi - lo) / bins:.2f}x: {c} lines</title></rect>')
        if c:
            parts.append(f'<text x="{20 + k * w + (w - 3) / 2 - 3:.1f}" y="{h - bh + top - 3:.1f}" class="count">{c}</text>')
    for v in (0.75, 1.0, 1.25, 1.5):
        x = 20 + (v - lo) / (hi - lo) * bins * w
        parts.append(f'<text x="{x:.1f}" y="{h + top + 16}" class="tick">{v:.2f}x</text>')
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC",sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 8px}
.meta{color:#666} .cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px} .card.bad b{color:#c0392b}
.scroll{overflow-x:auto;border:1px solid #ddd;border-radius:6px}
.timeline text,.histogram text{font-size:11px;fill:#555} .timeline .lane-label{font-size:13px;fill:#222;font-weight:600}
.timeline rect.speech{cursor:pointer} .timeline rect.speech.on{stroke:#000;stroke-width:2}
.legend span{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{border-bottom:1px solid #eee;padding:4px 6px;
vertical-align:top;text-align:left} th{background:#fafafa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums} tr.on{background:#fff6d5}
.warn{color:#c0392b} .why{color:#666;font-size:12px} audio{height:28px;width:180px}
.chip{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.qa-fail .heard{color:#c0392b} .heard{font-size:12px} body.only-failed tr[data-line]:not(.qa-fail){display:none}
"""

JS = """
(function(){
  var rows = {};
  document.querySelectorAll('tr[data-line]').forEach(function(tr){ rows[tr.dataset.line] = tr; });
  var bars = document.querySelectorAll('rect.speech');
  function select(line, play){
    document.querySelectorAll('.on').forEach(function(el){ el.classList.remove('on'); });
    var tr = rows[line]; if(!tr) return;
    tr.classList.add('on');
    document.querySelectorAll('rect.speech[data-line="'+line+'"]').forEach(function(r){ r.classList.add('on'); });
    tr.scrollIntoView({block:'center'});
    var a = tr.querySelector('audio'); if(play && a){ var p = a.play(); if(p && p.catch){ p.catch(function(){}); } }
  }
  bars.forEach(function(r){ r.addEventListener('click', function(){ select(r.dataset.line, true); }); });
  Object.keys(rows).forEach(function(k){ rows[k].addEventListener('click', function(ev){
    if(ev.target.tagName !== 'AUDIO'){ select(k, false); } }); });
  var only = document.getElementById('only-failed');
  if(only){ only.addEventListener('change', function(){ document.body.classList.toggle('only-failed', only.checked); }); }
  document.body.dataset.lanes = String(document.querySelectorAll('svg.timeline g.lane').length);
  document.body.dataset.ready = '1';
})();
"""


def page(title: str, rows: list[dict[str, Any]], pic: Picture, doc: dict[str, Any]) -> str:
    e = html.escape
    fig = figures(rows)
    mixf = doc.get("mix") or {}
    cards = [
        ("lines", f"{fig['lines']}", False),
        ("at natural speed", f"{fig['natural']}", False),
        ("speed min / median / max", f"{fig['speed_min']:.2f} / {fig['speed_median']:.2f} / {fig['speed_max']:.2f}", False),
        ("speed jump between neighbours (median / max)", f"{fig['jump_median']:.3f} / {fig['jump_max']:.3f}", False),
        ("overruns", f"{fig['overruns']} ({fig['overrun_ms']:.0f} ms)", fig["overruns"] > 0),
        ("compressed past the bound", f"{fig['compressed']}", fig["compressed"] > 0),
        ("residual stretch over 5 %", f"{fig['stretch_over_5']}", False),
        ("started early / ran past cue", f"{fig['early']} / {fig['spilled']}", False),
    ]
    if mixf:
        lufs = mixf.get("dialogue_lufs")
        tp = mixf.get("mix_true_peak_dbtp")
        cards.append(("dialogue loudness", f"{lufs:.1f} LUFS" if lufs is not None else "n/a", False))
        cards.append(("mix true peak", f"{tp:.1f} dBTP" if tp is not None else "n/a", False))
    plan_meta = doc.get("plan", {})
    legend = "".join(f'<span style="background:{speed_colour(s, 1.25, c)}"></span>{label}'
                     for s, c, label in ((0.8, False, "slower"), (1.0, False, "natural"), (1.12, False, "faster"),
                                         (1.25, False, "at the bound"), (1.4, True, "past the bound")))
    legend += '<span style="background:#ff0000"></span>overrun<span style="border:1px dashed #888;background:none">' \
              '</span>cue'
    checked = [r["qa"] for r in rows if r.get("qa")]
    scores = sorted(q["mos"] for q in checked if isinstance(q.get("mos"), (int, float)))
    if checked:
        failed = sum(not q["passed"] for q in checked)
        cards.append(("failed the check by ear (Whisper)", f"{failed} of {len(checked)}", failed > 0))
    if scores:
        cards.append(("predicted MOS, DNSMOS (min / median)", f"{scores[0]:.2f} / {scores[len(scores) // 2]:.2f}", False))
    trs = []
    for r in rows:
        warn = "<br>".join(e(w) for w in r["warnings"])
        emotion = r.get("emotion")
        emo = e(json.dumps(emotion, ensure_ascii=False) if isinstance(emotion, (dict, list)) else str(emotion)) \
            if emotion else ""
        chip = speed_colour(r["speed"], r["bounds"][1], r.get("compressed", False))
        qa = r.get("qa")
        heard = (f'<td class="heard">{e(qa["heard"])}<div class="why">error {qa["score"]:.2f}'
                 f'{"" if qa["passed"] else " (failed)"}, {qa["attempts"]} take(s)</div></td>') if qa else ""
        if scores:
            m = qa.get("mos") if qa else None
            heard += f'<td class="num mos">{m:.2f}</td>' if isinstance(m, (int, float)) else '<td class="num mos">n/a</td>'
        fail = ' class="qa-fail"' if qa and not qa["passed"] else ""
        trs.append(
            f'<tr data-line="{r["index"]}"{fail}>'
            f'<td class="num">{r["index"]}</td>'
            f'<td>{e(r["slot"]["start_tc"])}</td><td>{e(r["character"])}</td><td>{e(r["voice"])}</td>'
            f'<td>{emo}</td><td>{e(r["text"])}<div class="why">{e(r["reason"])}</div></td>'
            f'<td class="num"><span class="chip" style="background:{chip}"></span>{r["speed"]:.2f}x</td>'
            f'<td class="num">{r["engine_speed"]:.2f}</td><td class="num">{r["residual_stretch"]:.3f}</td>'
            f'<td class="num">{samples_to_ms(r.get("lead_samples", 0)):.0f} / {samples_to_ms(r.get("spill_samples", 0)):.0f}</td>'
            f'{heard}<td class="warn">{warn}</td>'
            f'<td><audio controls preload="none" src="{e(r["media"])}"></audio></td></tr>')
    retime = doc.get("video_retime") or {}
    retime_html = ""
    if retime.get("edits"):
        items = "".join(f"<li>{e(x['start_tc'])} - {e(x['end_tc'])}: slow the picture x{x['factor']:.3f} "
                        f"(+{samples_to_ms(x['extra_samples']):.0f} ms) for line(s) {', '.join(map(str, x['lines']))}</li>"
                        for x in retime["edits"])
        retime_html = (f"<h2>Video retime {'(applied)' if retime.get('applied') else '(suggested)'}</h2>"
                       f"<ul>{items}</ul>")
    notes = "".join(f"<li>{e(n)}</li>" for n in mixf.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{e(title)} - indextts-dub report</title><style>{CSS}</style></head>
<body>
<h1>{e(title)}</h1>
<div class="meta">engine {e(str(doc.get('engine', {}).get('name', '')))} {e(str(doc.get('engine', {}).get('version', '')))};
planner {e(str(plan_meta.get('method', '')))}, overflow {e(str(plan_meta.get('overflow', '')))},
speed bounds {doc['bounds']['speed_min']:.2f}-{doc['bounds']['speed_max']:.2f}x;
programme {e(timecode(doc['programme_samples']))}</div>
<h2>Summary</h2>
<div class="cards">{''.join(f'<div class="card{" bad" if bad else ""}"><b>{e(v)}</b>{e(k)}</div>' for k, v, bad in cards)}</div>
{f'<ul class="warn">{notes}</ul>' if notes else ''}
<h2>Speeds</h2>{histogram([r['speed'] for r in rows])}
<h2>Timeline</h2>
<div class="legend">{legend}</div>
<div class="scroll">{svg(pic)}</div>
{retime_html}
<h2>Lines</h2>
{'<label><input type="checkbox" id="only-failed"> only the lines that failed the check by ear</label>' if checked else ''}
<table><thead><tr><th>#</th><th>cue</th><th>character</th><th>voice</th><th>emotion</th><th>text / why</th>
<th>speed</th><th>engine</th><th>stretch</th><th>early / past (ms)</th>{'<th>heard / error</th>' if checked else ''}{'<th title="predicted listening quality, DNSMOS P.835 overall, 1-5">MOS</th>' if scores else ''}<th>warnings</th><th>clip</th></tr></thead>
<tbody>{''.join(trs)}</tbody></table>
<script>{JS}</script>
</body></html>
"""


def write(out_html: Path, out_png: Path | None, title: str, doc: dict[str, Any]) -> None:
    """Write ``report.html`` (and ``timeline.png``) from the plan document (``plan.json``'s content)."""
    rows = doc["lines"]
    lanes = list(dict.fromkeys(r["character"] for r in rows))
    pic = picture(rows, lanes, doc["programme_samples"])
    text = page(title, rows, pic, doc)
    write_text(out_html, text)
    if out_png is not None:
        png(pic, out_png)
