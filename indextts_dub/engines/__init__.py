"""Engines are plugins: the contract (:mod:`.base`), the registry over the entry point group
``indextts_dub.engines`` (:mod:`.registry`), and the engines this package ships: the built-in
Kokoro (:mod:`.kokoro`) and IndexTTS2 (:mod:`.indextts2`). ``docs/engines.md`` is the guide for
writing one."""
from .base import (EMOTIONS, VECTOR_SUM_CAP, Emotion, Engine, EngineConfigError, EngineError, EngineInfo, Request,
                   VoiceInfo, blend_id, parse_blend)
from .registry import GROUP, available, check, describe, engine_class, load, resolve_paths

__all__ = ["EMOTIONS", "GROUP", "VECTOR_SUM_CAP", "Emotion", "Engine", "EngineConfigError", "EngineError",
           "EngineInfo", "Request", "VoiceInfo", "available", "blend_id", "check", "describe", "engine_class",
           "load", "parse_blend", "resolve_paths"]
