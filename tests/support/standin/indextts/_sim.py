"""What both stand-in IndexTTS2 classes share: the conditioning cache index-tts keeps (keyed
by the prompt's path string, as the real one), a GPT stage whose code count follows the text
and the seeded generator, and a mel stage whose length is the length regulator's target.

The audio is a tone: its pitch comes from the speaker conditioning (the clip's content), its
level from the emotion, its length from the mel frames (256 samples each at 22.05 kHz), with
silence at both ends that scales with the length, as a rendered line's does."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import soundfile as sf

import torch

SR = 22_050
HOP = 256
STOP = 8193
HOOKABLE = True           # False: a build whose length regulator takes no forward hooks
BUILD = "aux_paths"       # "hub": IndexTTS-2 as PyPI's indextts2-cli 1.0.2 builds it (no aux_paths; the
                          # auxiliary models through huggingface_hub's cache); read when infer_v2 is imported
LAYERS = 24               # w2v-BERT's encoder layers: each draws one random number, even in eval mode
AUX_FILES = (("facebook/w2v-bert-2.0", "model.safetensors"), ("amphion/MaskGCT", "semantic_codec/model.safetensors"),
             ("funasr/campplus", "campplus_cn_common.bin"), ("nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan_generator.pt"))
CALLS: list[tuple[str, dict]] = []     # ("init"|"infer"|"speaker_conditioning"|"emotion_conditioning"|
                                       #  "gpt"|"length_regulator"|"normalize_emo_vec"|"qwen", details)


def record(kind: str, **details) -> None:
    CALLS.append((kind, details))


def calls(kind: str) -> list[dict]:
    return [d for k, d in CALLS if k == kind]


class GPT:
    def __init__(self, owner):
        self.owner = owner

    def inference_speech(self, speech_condition, text_inputs, *args, **kwargs):
        text = text_inputs.data.tolist()
        jitter = int(torch.rng().integers(0, 6))          # sampling: the seed decides
        code_len = 6 + 3 * len(text) + jitter
        codes = np.full((1, code_len + 3), STOP, np.int64)
        codes[0, :code_len] = (np.arange(code_len) * 7 + int(np.sum(text))) % 8000
        record("gpt", code_len=code_len, kwargs=sorted(kwargs))
        return torch.Tensor(codes), torch.Tensor(np.zeros((1, 32, 4), np.float32))


class LengthRegulator(torch.nn.Module):
    def forward(self, x, ylens=None, n_quantizers=None, f0=None):
        frames = int(np.asarray(ylens.data).reshape(-1)[0])
        record("length_regulator", ylens=frames, n_quantizers=n_quantizers)
        return torch.Tensor(np.zeros((1, frames, 4), np.float32)), ylens, None, None, None


class PlainRegulator:
    """A length regulator without hooks (an index-tts build the adapter cannot reach into)."""

    def __call__(self, x, ylens=None, n_quantizers=None, f0=None):
        frames = int(np.asarray(ylens.data).reshape(-1)[0])
        record("length_regulator", ylens=frames, n_quantizers=n_quantizers)
        return torch.Tensor(np.zeros((1, frames, 4), np.float32)), ylens, None, None, None


class S2Mel:
    def __init__(self):
        self.models = {"length_regulator": LengthRegulator() if HOOKABLE else PlainRegulator()}


class Base:
    version = "2"

    def _setup(self, init: dict) -> None:
        record("init", version=self.version, **init)
        self.device = init.get("device") or "cpu"
        # as index-tts: half precision only off the CPU
        self.use_fp16 = bool(init.get("use_fp16")) and self.device != "cpu"
        self.use_bf16 = bool(init.get("use_bf16")) and self.device != "cpu"
        print(">> Be patient, it may take a while to run in CPU mode.")
        if init.get("aux_paths", "none") == "none" and self.version == "2":     # the hub build
            import huggingface_hub

            for repo, name in AUX_FILES:
                huggingface_hub.hf_hub_download(repo, filename=name)
        self.stop_mel_token = STOP
        self.gpt = GPT(self)
        self.s2mel = S2Mel()
        self.qwen_emo = object() if init.get("use_qwen_emo") else None
        self.cache_spk_cond = None
        self.cache_s2mel_style = None
        self.cache_s2mel_prompt = None
        self.cache_spk_audio_prompt = None
        self.cache_emo_cond = None
        self.cache_emo_audio_prompt = None
        self.cache_mel = None

    def normalize_emo_vec(self, emo_vector, apply_bias=True):
        """Not the real biases: a recognisable transform the tests can predict."""
        record("normalize_emo_vec", vector=list(emo_vector), apply_bias=apply_bias)
        out = [round(v * (0.5 if apply_bias else 1.0), 6) for v in emo_vector]
        total = sum(out)
        return [v * 0.8 / total for v in out] if total > 0.8 else out

    @staticmethod
    def _features(path: str) -> np.ndarray:
        # transformers' w2v-BERT draws torch.rand once per layer (LayerDrop), even in eval mode
        torch.rng().random(LAYERS)
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        digest = hashlib.sha256(np.round(x[:, 0] * 32767).astype("<i2").tobytes()).digest()
        return np.array([digest[0] / 255.0, digest[1] / 255.0, float(np.sqrt(np.mean(x ** 2)))], np.float32)

    def _run(self, spk_audio_prompt, text, emo_audio_prompt, emo_alpha, emo_vector, use_emo_text, emo_text,
             interval_silence, max_text_tokens_per_segment, duration_factor, generation):
        # what index-tts and the libraries under it write: prints, progress bars
        print(">> starting inference...")
        print("Some weights of the model checkpoint were not used", file=sys.stderr)
        from tqdm import tqdm

        for _ in tqdm(range(3), desc="stand-in mel steps"):
            pass
        if use_emo_text or emo_vector is not None:
            emo_audio_prompt = None
        if use_emo_text:
            if self.qwen_emo is None:
                raise RuntimeError("use_emo_text=True requires QwenEmotion")
            record("qwen", text=emo_text if emo_text is not None else text)
            emo_vector = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0]
        if emo_vector is not None and emo_alpha != 1.0:
            emo_vector = [int(v * max(0.0, min(1.0, emo_alpha)) * 10000) / 10000 for v in emo_vector]
        if emo_audio_prompt is None:
            emo_audio_prompt = spk_audio_prompt
            emo_alpha = 1.0
        # index-tts's own cache: one prompt, keyed by its path string
        if self.cache_spk_cond is None or self.cache_spk_audio_prompt != spk_audio_prompt:
            f = self._features(spk_audio_prompt)
            record("speaker_conditioning", path=spk_audio_prompt, features=f.tolist())
            self.cache_spk_cond = torch.Tensor(f)
            self.cache_s2mel_style = torch.Tensor(f[:1])
            self.cache_s2mel_prompt = torch.Tensor(f[1:])
            self.cache_mel = torch.Tensor(np.zeros((1, 80, 10), np.float32))
            self.cache_spk_audio_prompt = spk_audio_prompt
        if self.cache_emo_cond is None or self.cache_emo_audio_prompt != emo_audio_prompt:
            f = self._features(emo_audio_prompt)
            record("emotion_conditioning", path=emo_audio_prompt)
            self.cache_emo_cond = torch.Tensor(f)
            self.cache_emo_audio_prompt = emo_audio_prompt
        spk = np.asarray(self.cache_spk_cond.data, np.float32)
        emo = np.asarray(self.cache_emo_cond.data, np.float32)
        strength = (sum(emo_vector) if emo_vector is not None else 0.3 * float(emo[0])) * emo_alpha
        size = max(1, int(max_text_tokens_per_segment))
        segments = [text[i:i + size] for i in range(0, len(text), size)] or [text]
        wavs = []
        for seg in segments:
            tokens = torch.tensor([ord(c) % 997 for c in seg])
            codes, latent = self.gpt.inference_speech(self.cache_spk_cond, tokens, self.cache_emo_cond,
                                                      emo_vec=strength, **generation)
            row = np.asarray(codes.data)[0]
            stop = np.flatnonzero(row == STOP)
            code_len = int(stop[0]) if stop.size else row.size
            frames = self._frames(code_len, duration_factor)
            cond = self.s2mel.models["length_regulator"](codes, ylens=torch.LongTensor([frames]), n_quantizers=3,
                                                         f0=None)[0]
            n = cond.shape[1] * HOP
            t = np.arange(n) / SR
            pitch = 110.0 + 220.0 * float(spk[0])
            level = 0.25 + 0.5 * min(1.0, strength)
            y = (level * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
            y += 0.01 * torch.rng().standard_normal(n).astype(np.float32)
            head, tail = int(0.06 * n), int(0.08 * n)
            y[:head] = 0.0
            y[n - tail:] = 0.0
            wavs.append(y)
        sil = np.zeros(int(SR * interval_silence / 1000), np.float32)
        out = wavs[0]
        for w in wavs[1:]:
            out = np.concatenate([out, sil, w])
        pcm = np.clip(np.round(out * 32767), -32767, 32767).astype(np.int16)
        return SR, pcm.reshape(-1, 1)
