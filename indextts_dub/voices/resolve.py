"""Each character's voice, as the engine will use it: built-in voice, reference clip or
library entry, resolved once per run before any line is spoken.

* built-in: checked against the engine's voices (and blends, where it mixes styles);
* reference clip: already checked when the cast was read; refused when it is too similar
  to a voice on the library's deny list (its embedding cached by content,
  :func:`.embedding.clip_embedding`); an engine that clones gets the normalised clip
  (``Request.reference``, keyed by its content hash); one that cannot gets the closest
  built-in voice or blend (:mod:`.match`, cached by content: a clip matched before loads
  neither the engine nor the embedder), and the plan says which and how close;
* library entry: looked up by name in the voice library, then as a reference clip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..engines import Engine, EngineInfo, refclip
from ..errors import DubError, Problems
from . import embedding, match, prompts
from .ids import ResolvedVoice, VoiceSpec, builtin, resolve_voice, unknown_voice_message
from .library import Library, closest_denied, default_path, read_denied


def resolve(voices: dict[str, VoiceSpec | None], cast_file: str, info: EngineInfo, engine: Callable[[], Engine],
            library: str | Path | None = None,
            deny_lists: tuple[str | Path, ...] = ()) -> tuple[dict[str, ResolvedVoice], list[str]]:
    """Map every character of ``voices`` ("" for the default voice) to a :class:`ResolvedVoice`.

    ``engine`` loads the engine when a reference must be matched to a built-in voice.
    ``library`` (default: the user's, :func:`.library.default_path`) is opened read-only when an entry is named, and for its deny list when a clip
    is given; the deny lists of the library files ``deny_lists`` apply as well. Returns the voices and notes for the report; raises :class:`DubError` naming the
    casting file, line and field.
    """
    problems = Problems()
    notes: list[str] = []
    out: dict[str, ResolvedVoice] = {}
    lib_path = Path(library) if library is not None else default_path()
    lib: Library | None = None
    lib_error: DubError | None = None
    specs = list(voices.items())
    needs_lib = any(s is not None and s.kind in ("library", "ref") for _, s in specs)
    if needs_lib:
        if lib_path.exists() or any(s is not None and s.kind == "library" for _, s in specs):
            try:
                lib = Library(lib_path, write=False, deny_lists=deny_lists)
            except DubError as exc:
                lib_error = exc
    # without a library of its own, a run still honours the other deny lists
    other_denied = [d for p in deny_lists for d in read_denied(p)] if needs_lib and lib is None else []
    matched: dict[str, ResolvedVoice] = {}

    def from_clip(name: str, spec: VoiceSpec, clip, label: str, emb=None) -> ResolvedVoice | None:
        key = clip.hash

        def target():
            return emb if emb is not None else embedding.clip_embedding(clip.hash, clip.audio, clip.sample_rate)

        if lib is not None or other_denied:
            hit = closest_denied(target(), lib.denied() if lib is not None else other_denied)
            if hit is not None:
                problems.add(cast_file, spec.line, spec.where, hit.message(label))
                return None
        if key in matched:
            return matched[key]
        if info.reference_voice:
            path = refclip.clip_file(clip)
            rv = ResolvedVoice(f"ref:{clip.hash[:12]}", f"{label} (cloned by {info.name})", str(path), clip.hash,
                               {"form": spec.kind, "clip_hash": clip.hash, "cloned": True})
        else:
            m = match.match_clip(clip.hash, target, info, engine)
            how = "blend of voice styles" if "+" in m.voice else "built-in voice"
            rv = ResolvedVoice(m.voice, f"{label} -> {info.name}:{m.voice} ({how}, similarity {m.similarity:.2f}; "
                                        f"best single voice {m.best_single} {m.best_single_similarity:.2f})",
                               None, clip.hash, {"form": spec.kind, "clip_hash": clip.hash, "match": m.record()})
            notes.append(f"{name or 'default voice'}: {rv.source}; {info.name} cannot clone a voice, IndexTTS2 can")
        matched[key] = rv
        return rv

    for name, spec in specs:
        if spec is None:
            continue
        who = name or "default voice"
        if spec.kind == "builtin":
            v = resolve_voice(spec.value, info)
            other = prompts.borrowed(spec.value, info) if v is None else None
            if other is not None:
                # an engine that clones takes another engine's built-in voice as a spoken prompt
                clip = prompts.prompt_clip(*other)
                rv = from_clip(who, spec, clip, f"{other[0]}:{other[1]} (spoken as a prompt by {other[0]})")
                if rv is not None:
                    out[name] = ResolvedVoice(rv.voice, rv.source, rv.reference, rv.reference_hash,
                                              rv.record | {"form": "builtin", "prompt_of": f"{other[0]}:{other[1]}"})
                continue
            if v is None:
                problems.add(cast_file, spec.line, spec.where, unknown_voice_message(spec.value, info))
                continue
            out[name] = builtin(v, info)
        elif spec.kind == "ref":
            rv = from_clip(who, spec, spec.clip, f"ref {Path(spec.value).name}")
            if rv is not None:
                out[name] = rv
        else:
            if lib is None:
                msg = str(lib_error.problems[0].message) if lib_error else "no voice library"
                problems.add(cast_file, spec.line, spec.where, f"library voice {spec.value!r}: {msg} ({lib_path})")
                continue
            entry = lib.get(spec.value)
            if entry is None:
                known = ", ".join(lib.names()) or "(the library is empty)"
                problems.add(cast_file, spec.line, spec.where,
                             f"no voice named {spec.value!r} in the library {lib_path}; known: {known}")
                continue
            clip = lib.clip(entry.clip_hash)
            rv = from_clip(who, spec, clip, f"library {entry.name}", entry.embedding)
            if rv is not None:
                out[name] = ResolvedVoice(rv.voice, rv.source, rv.reference, rv.reference_hash,
                                          rv.record | {"form": "library", "entry": entry.name,
                                                       "consent": {"who": entry.consent.who,
                                                                   "when": entry.consent.when,
                                                                   "for": entry.consent.purpose}})
    if lib is not None:
        lib.close()
    problems.raise_if_any()
    return out, notes


def resolve_builtin(voices: dict[str, VoiceSpec | None], cast_file: str, info: EngineInfo) -> dict[str, ResolvedVoice]:
    """Built-in voices only (no clips, no library): what a cast needs when the engine's own
    voices are all it names."""
    problems = Problems()
    out: dict[str, ResolvedVoice] = {}
    for name, spec in voices.items():
        if spec is None:
            continue
        if spec.kind != "builtin":
            problems.add(cast_file, spec.line, spec.where,
                         f"{spec.label()} needs the voice library and embeddings; use voices.resolve.resolve")
            continue
        v = resolve_voice(spec.value, info)
        if v is None:
            problems.add(cast_file, spec.line, spec.where if name else "default_voice",
                         unknown_voice_message(spec.value, info))
            continue
        out[name] = builtin(v, info)
    problems.raise_if_any()
    return out
