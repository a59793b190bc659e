"""The built-in voice (or blend of voice styles) that sounds closest to a reference clip.

An engine that cannot clone (the built-in Kokoro) can still honour a reference clip
roughly: every built-in voice speaks one probe sentence, its speaker embedding is compared
with the clip's, and the closest wins. With ``voice_blends`` the three closest styles are
mixed by a grid search over weights in embedding space; the best blend is then spoken and
measured, and kept only when its *measured* similarity beats the best single voice.
The report says which voice was chosen and how close it is. True cloning needs IndexTTS2.

Probe embeddings are cached in the user's cache folder, keyed by engine, model,
embedding model, probe sentence and voice id; so are the matches themselves
(:func:`match_clip`, keyed by the clip's content hash as well), so a run whose clips were
matched before loads neither the engine nor the embedder. The built-in voices' own embeddings ship with
the package (``data/voice_embeddings.json``, written by ``python -m indextts_dub.voices.match``),
so a first run on a new machine speaks only the blends it measures; a table that no longer
matches the model simply misses and is recomputed.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from .. import fsio
from ..engines import Engine, EngineInfo, Request, blend_id
from . import embedding

PROBE = "Good morning, everyone. 今天我们一起读这段话，好吗？"
BLEND_TOP = 3
BLEND_STEP = 0.1
MIN_GAIN = 0.005     # a blend must beat the best single voice by this much (measured)


@dataclass(frozen=True)
class VoiceMatch:
    voice: str                         # the chosen engine voice id (maybe a blend)
    similarity: float                  # measured on the chosen voice's own speech
    best_single: str
    best_single_similarity: float
    scores: dict[str, float] = field(default_factory=dict)   # every built-in voice

    def record(self) -> dict:
        return {"voice": self.voice, "similarity": round(self.similarity, 3),
                "best_single": self.best_single, "best_single_similarity": round(self.best_single_similarity, 3),
                "scores": {k: round(v, 3) for k, v in sorted(self.scores.items(), key=lambda kv: -kv[1])}}


def _cache_file() -> Path:
    return fsio.cache_dir() / "voice-embeddings.json"


PACKAGED = Path(__file__).with_name("data") / "voice_embeddings.json"


def _read(path: Path) -> dict[str, list[float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _load_cache() -> dict[str, list[float]]:
    return {**_read(PACKAGED), **_read(_cache_file())}


def _save_cache(cache: dict[str, list[float]]) -> None:
    try:
        fsio.write_text(_cache_file(), json.dumps(cache))
    except OSError:
        pass      # a cache that cannot be written only costs time


def _probe_key(info: EngineInfo) -> str:
    probe = hashlib.sha256(PROBE.encode()).hexdigest()[:12]
    return f"{info.name}|{info.version}|{info.model_id}|{embedding.MODEL_ID}|{probe}"


def _key(engine: Engine, voice: str) -> str:
    return f"{_probe_key(engine.info)}|{voice}"


def voice_embedding(engine: Engine, voice: str, cache: dict | None = None) -> np.ndarray:
    """Speaker embedding of ``voice`` speaking the probe sentence (cached on disk)."""
    own = cache is None
    cache = _load_cache() if own else cache
    key = _key(engine, voice)
    if key in cache:
        return np.asarray(cache[key], np.float32)
    x = engine.synthesize(Request(text=PROBE, voice=voice, language="zh"))
    v = embedding.embed(np.asarray(x, np.float32), engine.info.sample_rate)
    cache[key] = [float(a) for a in v]
    if own:
        _save_cache(cache)
    return v


def nearest(target: np.ndarray, engine: Engine, blend: bool | None = None) -> VoiceMatch:
    """The built-in voice, or blend, whose speech is closest to ``target`` (an embedding)."""
    cache = _load_cache()
    voices = engine.info.voice_ids()
    embs = {v: voice_embedding(engine, v, cache) for v in voices}
    scores = {v: embedding.similarity(target, e) for v, e in embs.items()}
    ranked = sorted(scores, key=lambda v: -scores[v])
    best, best_s = ranked[0], scores[ranked[0]]
    chosen, chosen_s = best, best_s
    if (engine.info.voice_blends if blend is None else blend) and len(ranked) > 1:
        top = ranked[:BLEND_TOP]
        steps = int(round(1 / BLEND_STEP))
        candidates = []
        for ws in itertools.product(range(steps + 1), repeat=len(top)):
            if sum(ws) != steps or sum(1 for w in ws if w) < 2:
                continue
            mix = sum(w * embs[v] for w, v in zip(ws, top))
            candidates.append((embedding.similarity(target, mix), [(w / steps, v) for w, v in zip(ws, top)]))
        candidates.sort(key=lambda c: -c[0])
        for predicted, parts in candidates[:2]:
            if predicted <= best_s + MIN_GAIN:
                break
            vid = blend_id(parts)
            measured = embedding.similarity(target, voice_embedding(engine, vid, cache))
            if measured > chosen_s + MIN_GAIN:
                chosen, chosen_s = vid, measured
        _save_cache(cache)
    else:
        _save_cache(cache)
    return VoiceMatch(chosen, chosen_s, best, best_s, scores)


def _matches_file() -> Path:
    return fsio.cache_dir() / "voice-matches.json"


def match_clip(clip_hash: str, target: Callable[[], np.ndarray], info: EngineInfo, engine: Callable[[], Engine],
               blend: bool | None = None) -> VoiceMatch:
    """:func:`nearest` for the clip whose content hash is ``clip_hash``, kept in the user's cache
    folder (keyed by the engine, its model and voices, the embedder, the probe, blending and the hash):
    ``target`` (the clip's embedding) and ``engine`` (the loaded engine) are called only when
    this clip was never matched with this engine before."""
    blend = info.voice_blends if blend is None else blend
    voices = hashlib.sha256(" ".join(info.voice_ids()).encode()).hexdigest()[:12]     # a new voice can win
    key = f"{_probe_key(info)}|{voices}|{embedding.VERSION}|{'blend' if blend else 'single'}|{clip_hash}"
    hit = _read(_matches_file()).get(key)
    if isinstance(hit, dict):
        try:
            return VoiceMatch(str(hit["voice"]), float(hit["similarity"]), str(hit["best_single"]),
                              float(hit["best_single_similarity"]),
                              {str(k): float(v) for k, v in dict(hit["scores"]).items()})
        except (KeyError, TypeError, ValueError):
            pass                         # a damaged entry is matched again
    m = nearest(target(), engine(), blend)
    table = _read(_matches_file())
    table[key] = asdict(m)
    try:
        fsio.write_text(_matches_file(), json.dumps(table))
    except OSError:
        pass
    return m


def write_table(path: Path = PACKAGED) -> Path:
    """Speak the probe with every built-in voice and store the embeddings as package data."""
    from .. import engines

    eng = engines.load("kokoro")
    table = {_key(eng, v): [round(float(a), 7) for a in voice_embedding(eng, v, {})] for v in eng.info.voice_ids()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fsio.write_text(path, json.dumps(table, indent=0, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write_table()}")
