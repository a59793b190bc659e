"""Stand-in of index-tts's ``indextts/infer_v2_5.py`` (IndexTTS-2.5): the real signatures, recorded.

Like the real module, importing it sets HF_HUB_CACHE relative to the working folder."""
from __future__ import annotations

import os

os.environ["HF_HUB_CACHE"] = "./checkpoints/hf_cache"

from . import _sim  # noqa: E402


class IndexTTS2(_sim.Base):
    version = "2.5"

    def __init__(self, cfg_path="checkpoints/config.yaml", model_dir="checkpoints", use_bf16=False, device=None,
                 use_cuda_kernel=None, use_deepspeed=False, use_accel=False, use_torch_compile=False,
                 use_qwen_emo=False):
        self._setup(dict(cfg_path=cfg_path, model_dir=model_dir, use_bf16=use_bf16, device=device,
                         use_cuda_kernel=use_cuda_kernel, use_deepspeed=use_deepspeed, use_accel=use_accel,
                         use_torch_compile=use_torch_compile, use_qwen_emo=use_qwen_emo))

    @staticmethod
    def _frames(code_len, duration_factor):
        return int(code_len * 1.72 * duration_factor)     # 2.5: duration_factor scales the mel target

    def infer(self, spk_audio_prompt, text, output_path, lang, emo_audio_prompt=None, emo_alpha=1.0,
              emo_vector=None, use_emo_text=False, emo_text=None, use_random=False, interval_silence=200,
              verbose=False, max_text_tokens_per_segment=120, stream_return=False, more_segment_before=0,
              duration_factor=1.0, text_normalization=True, **generation_kwargs):
        _sim.record("infer", spk_audio_prompt=spk_audio_prompt, text=text, output_path=output_path, lang=lang,
                    emo_audio_prompt=emo_audio_prompt, emo_alpha=emo_alpha, emo_vector=emo_vector,
                    use_emo_text=use_emo_text, emo_text=emo_text, use_random=use_random,
                    interval_silence=interval_silence, verbose=verbose,
                    max_text_tokens_per_segment=max_text_tokens_per_segment, duration_factor=duration_factor,
                    generation=dict(generation_kwargs))
        return self._run(spk_audio_prompt, text, emo_audio_prompt, emo_alpha, emo_vector, use_emo_text, emo_text,
                         interval_silence, max_text_tokens_per_segment, duration_factor, generation_kwargs)
