"""Make the demo's reference clips and voice library with the built-in engine.

    python samples/make_demo_voices.py

Writes (all synthetic speech, no person's voice; made by this project, same licence):

    samples/demo/voices/mei.wav           a reference clip for Mei (a blend of two Kokoro styles)
    samples/demo/clips/mei_excited.wav    an emotion reference clip
    samples/demo/voices.sqlite            a voice library holding "wang" (its clip inside) with its
                                          consent record

The files are committed; run this again only to remake them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEMO = REPO / "samples" / "demo"

CLIPS = {
    "voices/mei.wav": ("0.7*zf_xiaobei+0.3*zf_xiaoni", "zh",
                       "大家好，我叫小美。今天天气很好，我们一起去公园散步吧。"),
    "wang.wav": ("zm_yunjian", "zh", "同学们，上课了。今天我们学习新的内容，请大家认真听讲。"),
    "clips/mei_excited.wav": ("zf_xiaobei", "zh", "太好了！我们成功了！"),
}


def main() -> int:
    from indextts_dub import audio
    from indextts_dub.engines import Request
    from indextts_dub.engines.kokoro import KokoroEngine
    from indextts_dub.text.speech import speech_text
    from indextts_dub.voices.library import Consent, Library

    import tempfile

    engine = KokoroEngine()
    tmp = Path(tempfile.mkdtemp())
    for rel, (voice, lang, text) in CLIPS.items():
        speed = 1.25 if "excited" in rel else 1.0
        x = engine.synthesize(Request(text=speech_text(text, lang), voice=voice, language=lang, speed=speed))
        x = audio.trim_silence(np.asarray(x, np.float32), engine.info.sample_rate)
        x = x / max(1e-9, float(np.max(np.abs(x)))) * 0.7         # -3 dBFS peak, never clipped
        path = DEMO / rel if "/" in rel else tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        audio.write_wav(path, x, engine.info.sample_rate, subtype="PCM_16")
        print(f"wrote {path} ({x.size / engine.info.sample_rate:.1f} s, {voice})")
    lib_path = DEMO / "voices.sqlite"
    if lib_path.exists():
        lib_path.unlink()
    with Library(lib_path, write=True) as lib:
        lib.add("wang", tmp / "wang.wav",
                Consent(who="indextts-dub demo (synthetic voice, built-in engine)", when="2026-11-25",
                        purpose="the indextts-dub demo and its tests",
                        statement="Synthetic speech made by samples/make_demo_voices.py; no person's voice."))
    import shutil
    import sqlite3

    shutil.rmtree(tmp)

    con = sqlite3.connect(lib_path)
    con.execute("VACUUM")
    con.close()
    print(f"wrote {lib_path.relative_to(REPO)} ({lib_path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
