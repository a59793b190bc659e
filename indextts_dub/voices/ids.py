"""Voices by name: what a casting file says a voice is (:class:`VoiceSpec`), what it became for
the run's engine (:class:`ResolvedVoice`), and built-in voice ids checked against an engine
(blends in the one grammar of the engine contract, :func:`indextts_dub.engines.parse_blend`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engines import EngineInfo, blend_id, parse_blend
from ..engines.refclip import RefClip


@dataclass(frozen=True)
class VoiceSpec:
    """A voice as the casting file gives it: ``builtin`` (an engine voice id, maybe
    ``engine:``-prefixed), ``ref`` (a checked clip) or ``library`` (an entry's name)."""

    kind: str
    value: str                          # voice id / absolute clip path / library name
    line: int | None = None
    where: str = "voice"                # the field path in the casting file, for messages
    clip: RefClip | None = field(default=None, compare=False, repr=False)

    def label(self) -> str:
        return {"builtin": self.value, "ref": f"ref {self.value}", "library": f"library {self.value}"}[self.kind]


@dataclass(frozen=True)
class ResolvedVoice:
    """What a character's voice became for this engine (see :mod:`.resolve`)."""

    voice: str                       # engine voice id
    source: str                      # human-readable: how it was chosen
    reference: str | None = None     # clip path for engines that clone
    reference_hash: str | None = None
    record: dict = field(default_factory=dict, compare=False)


def resolve_voice(voice: str, info: EngineInfo) -> str | None:
    """``kokoro:jf_alpha`` or ``jf_alpha`` -> ``jf_alpha`` when the engine has it, else None.

    Engines that blend voice styles (``info.voice_blends``) also take
    ``0.6*jf_alpha+0.4*jm_kumo``; weights are normalised to sum to 1."""
    engine, sep, name = voice.partition(":")
    if sep and engine != info.name:
        return None
    name = (name if sep else voice).strip()
    if name in info.voice_ids():
        return name
    if "+" in name or "*" in name:
        parts = parse_blend(name) if info.voice_blends else None
        if not parts or any(v not in info.voice_ids() for _, v in parts):
            return None
        total = sum(w for w, _ in parts)
        if total <= 0 or len({v for _, v in parts}) != len(parts):
            return None
        return blend_id([(w / total, v) for w, v in parts])
    return None


def native_voice(info: EngineInfo, language: str, gender: str | None = None) -> str | None:
    """The engine's first voice whose own language (the first of ``VoiceInfo.languages``) is
    ``language`` (and of ``gender``, when given): what a character without a voice gets."""
    for v in info.voices:
        if v.languages[:1] == (language,) and (gender is None or v.gender == gender):
            return v.id
    return None


def builtin(voice: str, info: EngineInfo, inline: bool = False) -> ResolvedVoice:
    """A built-in voice id (already resolved) as a :class:`ResolvedVoice`."""
    record = {"form": "builtin", "voice": f"{info.name}:{voice}"} | ({"inline": True} if inline else {})
    return ResolvedVoice(voice, f"{info.name}:{voice}" + (" (inline)" if inline else ""), record=record)


def unknown_voice_message(voice: str, info: EngineInfo) -> str:
    return (f"unknown voice {voice!r} for engine {info.name}; available: "
            + ", ".join(f"{info.name}:{x}" for x in info.voice_ids())
            + ("; blends like kokoro:0.6*af_heart+0.4*bf_emma" if info.voice_blends else ""))
