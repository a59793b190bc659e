"""A third-party engine for the tests, written from docs/engines.md alone: it speaks tone bursts
whose length follows the text and the speed (with a fixed share, like real engines). Like a
sampling engine it can break a take: a line containing "garbled" comes out as noise with seed 0
(another seed fixes it), one containing "hopeless" always does."""
from __future__ import annotations

import os
import time

import numpy as np

from indextts_dub.engines import Engine, EngineInfo, Request, VoiceInfo

FAIL_ON: set[str] = set()


class ToyEngine(Engine):
    name = "toy"

    @classmethod
    def describe(cls, **options) -> EngineInfo:
        return EngineInfo(name="toy", version="toy-1", sample_rate=22_050, languages=("en", "zh"),
                          voices=(VoiceInfo("low"), VoiceInfo("high")), native_speed=True)

    def __init__(self, explode: bool = False, batch: bool = False):
        self.info = self.describe()
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
        seconds = 0.08 * len(request.text) * (0.3 + 0.7 / request.speed)
        n = int(seconds * sr)
        t = np.arange(n) / sr
        f = 180.0 if request.voice == "low" else 320.0
        burst = (0.4 * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        if "hopeless" in request.text or ("garbled" in request.text and request.seed == 0):
            # a broken take, as a sampling engine sometimes gives: noise instead of the tone
            burst = (0.3 * np.random.default_rng([n, request.seed]).standard_normal(n)).astype(np.float32)
        pad = np.zeros(int(0.1 * sr), np.float32)
        return np.concatenate([pad, burst, pad])
