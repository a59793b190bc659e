"""A third-party engine for the tests, written from docs/engines.md alone: it speaks tone bursts
whose length follows the text and the speed (with a fixed share, like real engines). Like a
sampling engine it can break a take: a line containing "garbled" comes out as noise with seed 0
(another seed fixes it), one containing "hopeless" always does, one containing "rushed" does when
it is sped up (a slower reading fixes it). With ``clone`` it clones: a
reference clip's "conditioning" (the pitch of its voice) is computed once per clip and kept
by content in the conditioning store, as IndexTTS2 keeps its own; every computation is logged
to ``$TOY_ENGINE_CONDITIONING_LOG`` when that is set."""
from __future__ import annotations

import os
import struct
import time

import numpy as np

from indextts_dub.engines import Engine, EngineInfo, Request, VoiceInfo
from indextts_dub.engines.condstore import ConditioningStore

FAIL_ON: set[str] = set()


class ToyEngine(Engine):
    name = "toy"

    @classmethod
    def describe(cls, clone: bool = False, **options) -> EngineInfo:
        return EngineInfo(name="toy", version="toy-1", sample_rate=22_050, languages=("en", "zh"),
                          voices=(VoiceInfo("low"), VoiceInfo("high")), native_speed=True,
                          reference_voice=bool(clone))

    def __init__(self, explode: bool = False, batch: bool = False, clone: bool = False):
        self.info = self.describe(clone=True) if clone else self.describe()
        self.pitch: dict[str, float] = {}          # clip hash -> pitch, in memory
        self.store = ConditioningStore()
        self.calls: list[Request] = []
        self.batch = batch
        self.batches: list[list[Request]] = []      # every synthesize_many call (with batch)
        if explode:                     # a bug inside the constructor, not a bad option
            len(None)

    def synthesize_many(self, requests):
        """With ``batch``: the optional batch call, recorded (the takes are the same as one by one)."""
        if not self.batch:
            return super().synthesize_many(requests)
        self.batches.append(list(requests))
        return [self.synthesize(r) for r in requests]

    def synthesize(self, request: Request) -> np.ndarray:
        self.calls.append(request)
        time.sleep(float(os.environ.get("TOY_ENGINE_DELAY", "0")))   # to kill runs mid-way in tests
        if request.text in FAIL_ON:
            raise RuntimeError(f"toy engine asked to fail on {request.text!r}")
        sr = self.info.sample_rate
        if request.reference:
            f = self.conditioning(request.reference, request.reference_hash)
        else:
            f = 180.0 if request.voice == "low" else 320.0
        seconds = 0.08 * len(request.text) * (0.3 + 0.7 / request.speed)
        n = int(seconds * sr)
        t = np.arange(n) / sr
        burst = (0.4 * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        if "hopeless" in request.text or ("garbled" in request.text and request.seed == 0) or (
                "rushed" in request.text and request.speed > 1.02):
            # a broken take, as a sampling engine sometimes gives: noise instead of the tone
            burst = (0.3 * np.random.default_rng([n, request.seed]).standard_normal(n)).astype(np.float32)
        pad = np.zeros(int(0.1 * sr), np.float32)
        return np.concatenate([pad, burst, pad])

    def conditioning(self, path: str, clip_hash: str) -> float:
        """The pitch of a reference clip's voice: from memory, the store, or computed (and kept)."""
        if clip_hash in self.pitch:
            return self.pitch[clip_hash]
        data = self.store.get("toy", self.info.version, clip_hash, "speaker")
        if data is None:
            import soundfile as sf

            x, sr = sf.read(path, dtype="float32", always_2d=True)
            spectrum = np.abs(np.fft.rfft(x.mean(axis=1)))
            freqs = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
            band = (freqs >= 80) & (freqs <= 400)
            data = struct.pack("<d", float(freqs[band][np.argmax(spectrum[band])]))
            log = os.environ.get("TOY_ENGINE_CONDITIONING_LOG")
            if log:
                with open(log, "a", encoding="utf-8") as fh:
                    fh.write(f"{clip_hash} {os.getpid()}\n")
            self.store.put("toy", self.info.version, clip_hash, "speaker", data)
        self.pitch[clip_hash] = struct.unpack("<d", data)[0]
        return self.pitch[clip_hash]
