"""Hearing and scoring fitted clips, with the verdicts cached by content (see :mod:`indextts_dub.qa`)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .. import audio, fsio
from ..clips import Clip
from ..timebase import SAMPLE_RATE
from . import hearing, mos
from .score import SCORER, error_rate

THRESHOLD = 0.25          # error rate past which a line is flagged
CACHE_FILE = "qa.json"


def clip_key(clip: Clip) -> str:
    """The QA cache key of a clip: its samples, what it should say, in which language, heard by
    which model and scored how."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(clip.audio, dtype=np.float32).tobytes())
    h.update(json.dumps([clip.line.speech_text, clip.line.language, hearing.MODEL_ID, SCORER]).encode())
    return h.hexdigest()


def _read_cache(path: Path | None) -> dict[str, dict]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def verdict(clip: Clip, heard: str, threshold: float, attempts: int = 1, quality: dict | None = None) -> dict:
    """The ``qa`` record of a clip from what was heard (and its predicted MOS, when known)."""
    score = round(error_rate(clip.line.speech_text, heard, clip.line.language), 3)
    return {"heard": heard, "score": score, "attempts": attempts, "passed": score <= threshold,
            "threshold": threshold} | ({"mos": quality["ovrl"]} if quality else {})


def with_verdict(clip: Clip, record: dict) -> Clip:
    """``clip`` carrying ``record``; a failed line gets a warning saying what was heard."""
    warnings = [w for w in clip.warnings if not w.startswith("QA: ")]
    if not record["passed"]:
        warnings.append(f"QA: heard {record['heard']!r} (error {record['score']:.2f} > {record['threshold']:.2f})")
    return replace(clip, qa=record, warnings=warnings)


def _speech(clip: Clip) -> np.ndarray:
    """The clip's speech (without the silence after it) at 16 kHz."""
    return audio.resample(clip.audio[:clip.speech_samples or clip.length], SAMPLE_RATE, hearing.SAMPLE_RATE)


def hear(clips: list[Clip], threads: int | None = None,
         progress: Callable[[int], None] | None = None) -> list[str]:
    """What Whisper hears in each clip (no cache); ``progress(done)`` after each batch."""
    if not clips:
        return []
    model = hearing.load(threads)
    items = [(_speech(c), c.line.language) for c in clips]
    return [h.text for h in model.hear(items, progress=progress)]


def quality(clips: list[Clip], threads: int | None = None) -> list[dict | None]:
    """Each clip's predicted listening quality (:mod:`.mos`; None without the model)."""
    return mos.score_many([_speech(c) for c in clips], threads) if clips else []


def check(clips: list[Clip], threshold: float = THRESHOLD, cache_folder: str | Path | None = None,
          progress: Callable[[str, int, int], None] | None = None, threads: int | None = None) -> list[Clip]:
    """Every clip heard and scored (see the module docstring); cached in ``cache_folder``."""
    if not 0 <= threshold <= 1:
        raise ValueError("threshold must lie in [0, 1]")
    path = Path(cache_folder) / CACHE_FILE if cache_folder is not None else None
    cache = _read_cache(path)
    keys = [clip_key(c) for c in clips]
    todo = [i for i, k in enumerate(keys) if not isinstance(cache.get(k), dict) or "heard" not in cache[k]]
    tell = (lambda done: progress("checking by ear", done, len(todo))) if progress and todo else None
    for i, text in zip(todo, hear([clips[i] for i in todo], threads, tell) if todo else []):
        cache[keys[i]] = {"heard": text}
    scored = mos.available()
    unscored = [i for i, k in enumerate(keys) if scored and "mos" not in cache[k]]
    for i, q in zip(unscored, quality([clips[i] for i in unscored], threads)):
        cache[keys[i]]["mos"] = q
    if (todo or unscored) and path is not None:
        try:
            fsio.write_text(path, json.dumps(cache, ensure_ascii=False))
        except OSError:
            pass        # a cache that cannot be written only costs time
    return [with_verdict(c, verdict(c, cache[k]["heard"], threshold, quality=cache[k].get("mos")))
            for c, k in zip(clips, keys)]
