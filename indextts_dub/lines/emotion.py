"""Emotion: the forms IndexTTS2 understands, parsed once, carried as plain data.

A line's emotion comes in one of four forms (IndexTTS2's own):

* a **preset** with an intensity: ``angry: 0.7`` (one of :data:`PRESETS`, or ``neutral``),
  several at once as a mapping (``{sad: 0.4, afraid: 0.2}``);
* an explicit **vector** of eight values in [0, 1], in IndexTTS2's order :data:`PRESETS`;
* a **reference clip** (``emotion_ref: clips/angry.wav``) with ``alpha`` in [0, 1];
* a **sentence** describing it (``emotion_text: "whispering nervously"``), optionally
  with ``alpha``; IndexTTS2 turns it into a vector with its small Qwen model.

Presets become vectors here, so an engine sees a vector, a clip or a text: the engine
contract's :class:`~indextts_dub.engines.Emotion` (:meth:`EmotionSpec.request`), sent whatever
the engine can do with it; one that cannot render emotion is reported once per run. IndexTTS2's
web UI caps a vector's sum at :data:`~indextts_dub.engines.VECTOR_SUM_CAP` (0.8) because larger
sums hurt the voice's similarity; plan.json records the vector as written and, when the cap
applies, as sent.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..engines import EMOTIONS, Emotion, refclip

PRESETS = EMOTIONS              # IndexTTS2's emo_vector order, as the engine contract fixes it
NEUTRAL = "neutral"
DEFAULT_INTENSITY = 1.0
# common spellings people write, mapped to the eight
SYNONYMS = {"joyful": "happy", "glad": "happy", "mad": "angry", "furious": "angry", "scared": "afraid",
            "fearful": "afraid", "disgust": "disgusted", "melancholy": "melancholic", "surprise": "surprised",
            "surprised!": "surprised", "low": "melancholic", "relaxed": "calm",
            "高兴": "happy", "愤怒": "angry", "悲伤": "sad", "害怕": "afraid", "厌恶": "disgusted",
            "忧郁": "melancholic", "惊讶": "surprised", "平静": "calm", "中性": NEUTRAL}


class EmotionError(ValueError):
    """A bad emotion value; the message says what is wrong (the caller adds file, line, field)."""


@dataclass(frozen=True)
class EmotionSpec:
    """An emotion as a casting file or an inline tag gives it, in exactly one form: ``kind`` is
    preset, vector, ref, text or neutral. :meth:`request` is what an engine is sent."""

    kind: str
    vector: tuple[float, ...] | None = None     # 8 values (preset and vector forms)
    presets: tuple[tuple[str, float], ...] = ()  # the names and intensities a preset form gave
    ref: str | None = None                       # absolute path of a checked clip (ref form)
    ref_hash: str | None = None                  # content hash of that clip
    text: str | None = None                      # the sentence (text form)
    alpha: float = 1.0
    source: str = ""                             # where it was written: "cast.yaml:12" or "episode.srt:5"

    @property
    def is_neutral(self) -> bool:
        return self.kind == NEUTRAL

    def label(self) -> str:
        """Short human form: ``angry 0.70``, ``vector [..]``, ``ref angry.wav a=0.6``, ``text "..."``."""
        if self.kind == "preset":
            return " + ".join(f"{n} {v:.2f}" for n, v in self.presets)
        if self.kind == "vector":
            return "vector [" + ", ".join(f"{v:g}" for v in self.vector or ()) + "]"
        if self.kind == "ref":
            return f"ref {Path(self.ref or '').name} alpha {self.alpha:g}"
        if self.kind == "text":
            return f"text {self.text!r}" + (f" alpha {self.alpha:g}" if self.alpha != 1.0 else "")
        return NEUTRAL

    def request(self) -> Emotion | None:
        """What ``Request.emotion`` carries (the engine contract's :class:`~indextts_dub.engines.Emotion`);
        None for neutral."""
        if self.is_neutral:
            return None
        return Emotion(self.kind, vector=self.vector, presets=self.presets, alpha=self.alpha, clip=self.ref,
                       clip_hash=self.ref_hash, text=self.text, label=self.label())

    def record(self) -> dict[str, Any]:
        """For plan.json and the timeline's metadata (the vector as written, and as sent)."""
        out = {"kind": self.kind, "label": self.label(), "source": self.source}
        if self.vector is not None:
            out["vector"] = list(self.vector)
            vec, capped = Emotion(self.kind, vector=self.vector).capped_vector()
            if capped:
                out["vector_sent"] = list(vec)
        if self.presets:
            out["presets"] = dict(self.presets)
        if self.ref:
            out["ref"] = self.ref
            out["ref_hash"] = self.ref_hash
        if self.text:
            out["text"] = self.text
        if self.kind in ("ref", "text"):
            out["alpha"] = self.alpha
        return out

    def key(self) -> str:
        """A stable string for caches (takes differ when the emotion differs)."""
        if self.is_neutral:
            return ""
        parts = [self.kind, repr(self.vector), self.ref_hash or "", self.text or "", f"{self.alpha:.4f}"]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]




def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EmotionError(f"{what} must be a number between 0 and 1, not {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise EmotionError(f"{what} must be a number between 0 and 1, not {value!r}") from None
    if not 0.0 <= x <= 1.0 or x != x:
        raise EmotionError(f"{what} must be between 0 and 1 (got {value})")
    return x


def preset_name(name: Any) -> str:
    """``Angry`` / ``mad`` / ``愤怒`` -> ``angry``; EmotionError naming the presets otherwise."""
    key = str(name).strip().casefold()
    key = SYNONYMS.get(key, key)
    if key in PRESETS or key == NEUTRAL:
        return key
    raise EmotionError(f"unknown emotion preset {str(name)!r}; use one of {', '.join(PRESETS)} or {NEUTRAL}, "
                       "a vector of 8 values, emotion_ref or emotion_text")


def from_presets(items: list[tuple[Any, Any]], source: str = "") -> EmotionSpec:
    vec = [0.0] * len(PRESETS)
    named: list[tuple[str, float]] = []
    for name, intensity in items:
        key = preset_name(name)
        x = DEFAULT_INTENSITY if intensity is None else _number(intensity, f"the intensity of {key}")
        if key == NEUTRAL:
            if len(items) > 1:
                raise EmotionError("neutral cannot be mixed with other presets")
            return EmotionSpec(NEUTRAL, source=source)
        if key in dict(named):
            raise EmotionError(f"{key} is given twice")
        vec[PRESETS.index(key)] = x
        named.append((key, x))
    if not named:
        raise EmotionError("an empty emotion; give a preset such as 'angry: 0.7'")
    return EmotionSpec("preset", vector=tuple(vec), presets=tuple(named), source=source)


def from_vector(values: Any, source: str = "") -> EmotionSpec:
    if not isinstance(values, (list, tuple)):
        raise EmotionError("a vector is a list of 8 numbers")
    if len(values) != len(PRESETS):
        raise EmotionError(f"a vector needs exactly {len(PRESETS)} values ({', '.join(PRESETS)}); got {len(values)}")
    vec = tuple(_number(v, f"value {i + 1} ({PRESETS[i]})") for i, v in enumerate(values))
    if not any(vec):
        return EmotionSpec(NEUTRAL, source=source)
    return EmotionSpec("vector", vector=vec, source=source)


_PRESET_TEXT = re.compile(r"^\s*([^\s:=,\[\]]+)\s*(?:[:=]\s*([^\s,]+))?\s*$")


def parse_value(value: Any, source: str = "") -> EmotionSpec:
    """The ``emotion`` value of a casting file or an inline tag, in any of its forms:

    ``angry`` / ``angry:0.7`` / ``"sad:0.4, afraid:0.2"`` / ``{angry: 0.7}`` /
    ``[0, 0.7, 0, 0, 0, 0, 0, 0]`` / ``"0,0.7,0,0,0,0,0,0"`` / ``neutral``.
    """
    if value is None:
        raise EmotionError("empty; give a preset such as 'angry: 0.7' or a vector of 8 values")
    if isinstance(value, dict):
        return from_presets(list(value.items()), source)
    if isinstance(value, (list, tuple)):
        return from_vector(list(value), source)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise EmotionError(f"{value!r} is a number; give a preset with it, e.g. 'angry: {value}'")
    text = str(value).strip()
    if not text:
        raise EmotionError("empty; give a preset such as 'angry: 0.7' or a vector of 8 values")
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    parts = [p.strip() for p in re.split(r"[,，;]", inner)]
    if text.startswith("[") or all(re.fullmatch(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?", p) for p in parts if p):
        return from_vector([p for p in parts if p], source)
    items = []
    for p in parts:
        m = _PRESET_TEXT.match(p)
        if not m:
            raise EmotionError(f"cannot read {p!r}; write a preset as 'angry:0.7'")
        items.append((m.group(1), m.group(2)))
    return from_presets(items, source)


def from_text(text: Any, alpha: Any = None, source: str = "") -> EmotionSpec:
    if not isinstance(text, str) or not text.strip():
        raise EmotionError("emotion_text must be a sentence describing the emotion")
    return EmotionSpec("text", text=text.strip(), alpha=1.0 if alpha is None else _number(alpha, "alpha"),
                   source=source)


def from_ref(path: Path, clip_hash: str, alpha: Any = None, source: str = "") -> EmotionSpec:
    return EmotionSpec("ref", ref=str(path), ref_hash=clip_hash,
                   alpha=1.0 if alpha is None else _number(alpha, "alpha"), source=source)


def check_alpha(alpha: Any) -> float:
    return _number(alpha, "alpha")


FORMS = ("emotion", "emotion_ref", "emotion_text")
ALPHAS = ("emotion_alpha", "alpha")


def read_forms(values: Mapping[str, Any], base: Path, source: str, *, per_line: bool = False
               ) -> tuple[EmotionSpec | None, float | None, list[tuple[str, str]]]:
    """The one emotion form among ``values`` (a casting file's character mapping, or a cue's
    inline tags): ``emotion`` (a preset or vector), ``emotion_ref`` (a clip, relative to ``base``)
    or ``emotion_text``, with ``alpha``/``emotion_alpha`` scaling a clip or a sentence.

    Returns ``(emotion or None, alpha or None, problems)``, each problem ``(key, message)``. An
    alpha without a form is a problem in a casting file; on one line (``per_line``) it rescales
    the emotion the line inherits."""
    forms = [k for k in FORMS if k in values]
    alpha_key = next((k for k in ALPHAS if k in values), None)
    problems: list[tuple[str, str]] = []
    if len(forms) > 1:
        problems.append((forms[1], f"give one emotion form{' per line' if per_line else ''}, not both {forms[0]} "
                                   f"and {forms[1]}"))
    alpha = None
    if alpha_key is not None:
        try:
            alpha = check_alpha(values[alpha_key])
        except EmotionError as exc:
            problems.append((alpha_key, str(exc)))
    if problems:
        return None, None, problems
    if not forms:
        if alpha_key is not None and not per_line:
            problems.append((alpha_key, "alpha scales emotion_ref or emotion_text; give one of them"))
        return None, alpha, problems
    k = forms[0]
    if k == "emotion" and alpha_key is not None:
        return None, None, [(alpha_key, "alpha goes with emotion_ref or emotion_text; a preset or vector carries its "
                                        "own intensities")]
    try:
        if k == "emotion":
            return parse_value(values[k], source), None, []
        if k == "emotion_text":
            return from_text(values[k], alpha, source), alpha, []
        value = values[k]
        if not isinstance(value, str) or not value.strip():
            raise EmotionError("must be the path of a clip that shows the emotion")
        clip_path = Path(os.path.realpath(base / value.strip()))     # never raises, even on a link loop
        try:
            clip = refclip.read_clip(clip_path, refclip.EMOTION_SECONDS, "emotion reference clip")
        except refclip.ClipError as exc:
            raise EmotionError(str(exc)) from None
        return from_ref(clip_path, clip.hash, alpha, source), alpha, []
    except EmotionError as exc:
        return None, None, [(k, str(exc))]
