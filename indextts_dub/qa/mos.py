"""Predicted listening quality of a clip: DNSMOS P.835 (Microsoft's non-intrusive speech quality
model) run with onnxruntime on the ONNX file inside the ``speechmos`` wheel (MIT, part of the
``qa`` extra).

``speechmos``'s own module imports librosa, requests, pandas and tqdm without declaring them;
the P.835 model needs none of that: it takes 9.01 s of raw 16 kHz samples and answers three
raw scores (speech signal, background, overall), which published second-order polynomials map
to the MOS scale (1 bad - 5 excellent). So this module only locates the model file of the
installed wheel (no import of ``speechmos.dnsmos``) and feeds it numpy arrays. A clip shorter
than the window is repeated until it fills it (how DNSMOS scores short clips); a longer one is
scored in windows one second apart and averaged. Only the speech is scored, not the silence
the clip carries after it.

DNSMOS was trained on noisy and denoised recordings, not on synthetic speech: its overall score
says "clean and natural-sounding" or "buzzy, noisy, clipped"; it does not know the words. It
is a column in the report, never a reason to fail a line.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = int(9.01 * SAMPLE_RATE)        # the model's input, samples
HOP = SAMPLE_RATE
BATCH = 8                               # windows per model call
MODEL_ID = "dnsmos-p835-sig_bak_ovr/speechmos-0.0.1.1"
# raw model outputs -> MOS (DNSMOS P.835, non-personalised), highest power first
_POLY = {"sig": (-0.08397278, 1.22083953, 0.0052439),
         "bak": (-0.13166888, 1.60915514, -0.39604546),
         "ovrl": (-0.06766283, 1.11546468, 0.04602535)}
_lock = threading.Lock()
_session: list = []          # the one loaded session ([] not tried yet, [None] unavailable)


def model_file() -> Path | None:
    """The P.835 ONNX file of the installed ``speechmos`` wheel, or None without it."""
    spec = importlib.util.find_spec("speechmos")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "dnsmos_models" / "sig_bak_ovr.onnx"
        if path.is_file():
            return path
    return None


def _load(threads: int | None = None):
    with _lock:
        if not _session:
            path = model_file()
            session = None
            if path is not None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
                opts.inter_op_num_threads = 1
                try:
                    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
                except Exception:       # a damaged file: no MOS column rather than no run
                    session = None
            _session.append(session)
        return _session[0]


def available() -> bool:
    return _load() is not None


def windows(speech: np.ndarray) -> np.ndarray:
    """The model's input windows of ``speech`` (16 kHz): repeated up to one window when shorter,
    else every window one second apart; shape (n, WINDOW)."""
    x = np.asarray(speech, np.float32).ravel()
    if x.size == 0:
        return np.zeros((0, WINDOW), np.float32)
    if x.size < WINDOW:
        x = np.resize(x, WINDOW)            # repeats the clip
    n = (x.size - WINDOW) // HOP + 1
    return np.stack([x[k * HOP:k * HOP + WINDOW] for k in range(n)])


def score(speech: np.ndarray, threads: int | None = None) -> dict | None:
    """``{"ovrl": …, "sig": …, "bak": …}`` on the MOS scale for ``speech`` at 16 kHz, or None when
    the model is not installed or there is nothing to score."""
    return score_many([speech], threads)[0]


def score_many(speeches: list[np.ndarray], threads: int | None = None) -> list[dict | None]:
    """:func:`score` of each, the windows of several clips run together (:data:`BATCH` a call)."""
    session = _load(threads)
    if session is None:
        return [None] * len(speeches)
    wins = [np.clip(windows(x), -1.0, 1.0) for x in speeches]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(wins)]) if wins else np.zeros(0, int)
    stacked = np.concatenate(wins) if wins else np.zeros((0, WINDOW), np.float32)
    name = session.get_inputs()[0].name
    raw = np.concatenate([session.run(None, {name: stacked[k:k + BATCH]})[0] for k in range(0, len(stacked), BATCH)]
                         ) if len(stacked) else np.zeros((0, 3), np.float32)       # (windows, 3): sig, bak, ovrl
    out: list[dict | None] = []
    for i in range(len(speeches)):
        mine = raw[owner == i]
        if not len(mine):
            out.append(None)
            continue
        out.append({key: round(float(np.mean(np.polyval(_POLY[key], mine[:, k]))), 2)
                    for k, key in enumerate(("sig", "bak", "ovrl"))})
    return out
