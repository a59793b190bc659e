"""Runs inside the real index-tts venv (see tests/support/indextts2_real.py): dubs a project
folder through the whole pipeline with engine indextts2 and prints what the test checks, as JSON.

``python scene.py PROJECT OUT`` dubs ``PROJECT/e.srt`` with ``PROJECT/cast.yaml`` into ``OUT``
(per-line plan, so every squeezed line needs the engine's exact length); every ``infer`` call
index-tts receives is recorded (the emotion arguments), and the loaded engine's counters, notes
and a direct exact-length probe are reported."""
from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path


def main(project: Path, out: Path) -> None:
    import numpy as np

    from indextts_dub import audio, dub, engines
    from indextts_dub.engines import Request, refclip

    import indextts.infer_v2 as v2

    calls: list[dict] = []
    original = v2.IndexTTS2.infer

    def infer(self, spk_audio_prompt, text, output_path, **kw):
        calls.append({"text": text, "spk": Path(spk_audio_prompt).stem, "emo_vector": kw.get("emo_vector"),
                      "emo_audio_prompt": Path(kw["emo_audio_prompt"]).stem if kw.get("emo_audio_prompt") else None,
                      "use_emo_text": kw.get("use_emo_text"), "emo_text": kw.get("emo_text"),
                      "emo_alpha": kw.get("emo_alpha")})
        return original(self, spk_audio_prompt, text, output_path, **kw)

    v2.IndexTTS2.infer = infer
    t0 = time.process_time()
    res = dub(project / "e.srt", cast=project / "cast.yaml", out=out, planner="per-line")
    eng = next(iter(engines.registry._loaded.values()), None)
    doc: dict = {"calls": calls, "summary": res.summary, "synthesis_calls": res.facts.synthesis_calls}
    entries = {e.index: e for e in res.plan.entries}
    doc["clips"] = [{"cue": c.line.cue.id, "speaker": c.line.character, "speed": c.speed, "residual": c.residual,
                     "speech": c.speech_samples, "planned_speech": entries[c.line.index].speech_samples,
                     "length": c.length, "planned_length": entries[c.line.index].length,
                     "hash": __import__("hashlib").sha256(np.asarray(c.audio, "<f4").tobytes()).hexdigest()}
                    for c in res.clips]
    if eng is not None:
        doc["stats"] = dict(eng.stats)
        doc["notes"] = list(eng.notes)
        doc["precision"] = eng.precision
        doc["model_id"] = eng.info.model_id
        # the exact-length path straight from the engine: speech samples asked and rendered (22.05 kHz)
        clip = refclip.read_clip(project / "anna.wav")
        req = Request("Tell me the truth.", "ref", "en", reference=str(project / "anna.wav"), reference_hash=clip.hash)
        natural = audio.trim_silence(eng.synthesize(req), eng.info.sample_rate).size
        probes = []
        for ratio in (0.8,):
            target = int(natural * ratio)
            got = audio.trim_silence(eng.synthesize(replace(req, target_samples=target)), eng.info.sample_rate).size
            probes.append({"target": target, "speech": got})
        doc["exact"] = {"natural": natural, "hop": eng.layout.hop, "probes": probes}
    doc["cpu_seconds"] = round(time.process_time() - t0, 1)
    doc["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("SCENE-JSON " + json.dumps(doc, ensure_ascii=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
