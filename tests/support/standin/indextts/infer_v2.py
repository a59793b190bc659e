"""Stand-in of index-tts's ``indextts/infer_v2.py`` (IndexTTS-2): the real signatures, recorded."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_CACHE", "./checkpoints/hf_cache")     # as upstream, before huggingface_hub

import huggingface_hub  # noqa: E402,F401

from . import _sim  # noqa: E402


class _AuxPaths(_sim.Base):
    """Upstream main after aux_paths."""

    version = "2"

    def __init__(self, cfg_path="checkpoints/config.yaml", model_dir="checkpoints", use_fp16=False, device=None,
                 use_cuda_kernel=None, use_deepspeed=False, use_accel=False, use_torch_compile=False,
                 use_qwen_emo=True, aux_paths=None):
        self._setup(dict(cfg_path=cfg_path, model_dir=model_dir, use_fp16=use_fp16, device=device,
                         use_cuda_kernel=use_cuda_kernel, use_deepspeed=use_deepspeed, use_accel=use_accel,
                         use_torch_compile=use_torch_compile, use_qwen_emo=use_qwen_emo, aux_paths=aux_paths))

    @staticmethod
    def _frames(code_len, duration_factor):
        return int(code_len * 1.72)          # v2: target_lengths = code_lens * 1.72, nothing scales it

    def infer(self, spk_audio_prompt, text, output_path, emo_audio_prompt=None, emo_alpha=1.0, emo_vector=None,
              use_emo_text=False, emo_text=None, use_random=False, interval_silence=200, verbose=False,
              max_text_tokens_per_segment=120, stream_return=False, more_segment_before=0, **generation_kwargs):
        _sim.record("infer", spk_audio_prompt=spk_audio_prompt, text=text, output_path=output_path,
                    emo_audio_prompt=emo_audio_prompt, emo_alpha=emo_alpha, emo_vector=emo_vector,
                    use_emo_text=use_emo_text, emo_text=emo_text, use_random=use_random,
                    interval_silence=interval_silence, verbose=verbose,
                    max_text_tokens_per_segment=max_text_tokens_per_segment, generation=dict(generation_kwargs))
        return self._run(spk_audio_prompt, text, emo_audio_prompt, emo_alpha, emo_vector, use_emo_text, emo_text,
                         interval_silence, max_text_tokens_per_segment, 1.0, generation_kwargs)


class _Hub(_AuxPaths):
    """PyPI's indextts2-cli 1.0.2 (upstream main of March 2026): no aux_paths, no use_qwen_emo; the
    auxiliary models come through huggingface_hub's cache."""

    def __init__(self, cfg_path="checkpoints/config.yaml", model_dir="checkpoints", use_fp16=False, device=None,
                 use_cuda_kernel=None, use_deepspeed=False, use_accel=False, use_torch_compile=False):
        self._setup(dict(cfg_path=cfg_path, model_dir=model_dir, use_fp16=use_fp16, device=device,
                         use_cuda_kernel=use_cuda_kernel, use_deepspeed=use_deepspeed, use_accel=use_accel,
                         use_torch_compile=use_torch_compile, use_qwen_emo=True, aux_paths="none"))


IndexTTS2 = _Hub if _sim.BUILD == "hub" else _AuxPaths
