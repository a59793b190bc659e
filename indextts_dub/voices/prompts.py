"""Prompt clips: another engine's built-in voice, spoken once, as a reference clip for an
engine that clones (IndexTTS2 has no voices of its own).

``kokoro:jf_alpha`` in a cast whose engine is ``indextts2`` means: the built-in engine speaks
:data:`PROMPT` in jf_alpha once; that clip (cached in the user's cache folder by engine,
version, model and voice) becomes the character's reference clip, checked like any other and
keyed by its content hash. So a casting file written for the built-in engine switches to
IndexTTS2 by changing its ``engine`` line alone.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .. import fsio
from ..engines import EngineInfo, refclip
from .ids import resolve_voice

DEFAULT_VOICE = "kokoro:af_heart"       # a run without a casting file, for engines without voices
DEFAULT_ENGINE = "kokoro"
# about nine seconds of calm speech in both languages: enough for a speaker prompt (3-15 s)
PROMPT = ("Good morning. 今天的天气很好，我们一起去公园散步吧。"
          "The station is just around the corner, and the train leaves at nine.")


def _cache_dir() -> Path:
    return fsio.cache_dir("prompts")


def borrowed(voice: str, info: EngineInfo) -> tuple[str, str] | None:
    """``(engine, voice id)`` when ``voice`` names another installed engine's built-in voice
    (``kokoro:jf_alpha``, or a bare ``jf_alpha`` of the built-in engine) and ``info``'s engine
    clones from clips; None otherwise."""
    from .. import engines

    if not info.reference_voice:
        return None
    name, sep, _ = voice.partition(":")
    other = name.strip() if sep else DEFAULT_ENGINE
    if other == info.name or other not in engines.available():
        return None
    try:
        other_info = engines.describe(other)
    except Exception:
        return None
    vid = resolve_voice(voice if sep else f"{other}:{voice}", other_info)
    return (other, vid) if vid is not None else None


def prompt_clip(engine_name: str, voice: str) -> refclip.RefClip:
    """The prompt clip of ``engine_name``'s ``voice``: spoken once, then read from the cache."""
    import numpy as np

    from .. import audio, engines
    from ..engines import Request

    info = engines.describe(engine_name)
    ident = f"{engine_name}|{info.version}|{info.model_id}|{voice}|{PROMPT}"
    path = _cache_dir() / f"{engine_name}-{hashlib.sha256(ident.encode()).hexdigest()[:20]}.wav"
    if not path.is_file():
        engine = engines.load(engine_name)
        x = np.asarray(engine.synthesize(Request(text=PROMPT, voice=voice, language="zh")), np.float32)
        audio.write_wav(path, x, info.sample_rate, subtype="PCM_16")
    return refclip.read_clip(path, refclip.VOICE_SECONDS, f"{engine_name}:{voice} prompt clip")
