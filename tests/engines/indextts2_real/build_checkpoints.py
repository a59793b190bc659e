"""Builds a tiny, randomly initialised, seeded IndexTTS-2 checkpoint folder that the real
index-tts code (PyPI's ``indextts2-cli``) loads and runs on a CPU, offline.

Run with the Python of the venv that holds index-tts (``.venv-indextts2``):
``python build_checkpoints.py OUT_FOLDER``. Every module is built with index-tts's (or
transformers') own classes from the configuration written here, so the shapes always match
what the code expects; the sizes the code hard-wires stay full size (see
``../shared/reference/indextts2.md``): w2v-BERT 1024 wide with 17 layers (``hidden_states[17]``),
the GPT 1280 wide (``Linear(1280, 256)`` in s2mel), CAMPPlus as it is (192-d), 80 mels, hop 256,
22.05 kHz. Everything else is as small as it can be. The weights mean nothing: the audio is
noise shaped by the pipeline; what is real is every line of index-tts's code that runs.

The auxiliary models land in ``OUT/hf_cache`` as a Hugging Face hub cache, which is how this
build of index-tts looks them up (``models--facebook--w2v-bert-2.0/snapshots/<rev>/...``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

SEED = 20261202
REV = "0000000000000000000000000000000000000000"
STOP_BIAS = -2.0     # the GPT's stop code: with repetition penalty 10 over 66 codes a segment ends by itself

CONFIG = """\
dataset:
    bpe_model: bpe.model
    sample_rate: 24000
    squeeze: false
    mel: {sample_rate: 24000, n_fft: 1024, hop_length: 256, win_length: 1024, n_mels: 100, mel_fmin: 0, normalize: false}
gpt:
    model_dim: 1280
    max_mel_tokens: 600
    max_text_tokens: 200
    heads: 20
    use_mel_codes_as_input: true
    mel_length_compression: 1024
    layers: 1
    number_text_tokens: 120
    number_mel_codes: 66
    start_mel_token: 64
    stop_mel_token: 65
    start_text_token: 0
    stop_text_token: 1
    train_solo_embeddings: false
    condition_type: "conformer_perceiver"
    condition_module: {output_size: 64, linear_units: 64, attention_heads: 2, num_blocks: 1, input_layer: "conv2d2", perceiver_mult: 1}
    emo_condition_module: {output_size: 64, linear_units: 64, attention_heads: 2, num_blocks: 1, input_layer: "conv2d2", perceiver_mult: 1}
semantic_codec:
    codebook_size: 66
    hidden_size: 1024
    codebook_dim: 8
    vocos_dim: 32
    vocos_intermediate_dim: 64
    vocos_num_layers: 1
s2mel:
    preprocess_params:
        sr: 22050
        spect_params: {n_fft: 1024, win_length: 1024, hop_length: 256, n_mels: 80, fmin: 0, fmax: "None"}
    dit_type: "DiT"
    reg_loss_type: "l1"
    style_encoder: {dim: 192}
    length_regulator:
        channels: 64
        is_discrete: false
        in_channels: 1024
        content_codebook_size: 2048
        sampling_ratios: [1, 1, 1, 1]
        vector_quantize: false
        n_codebooks: 1
        quantizer_dropout: 0.0
        f0_condition: false
        n_f0_bins: 512
    DiT:
        hidden_dim: 64
        num_heads: 2
        depth: 1
        class_dropout_prob: 0.1
        block_size: 8192
        in_channels: 80
        style_condition: true
        final_layer_type: 'wavenet'
        target: 'mel'
        content_dim: 64
        content_codebook_size: 1024
        content_type: 'discrete'
        f0_condition: false
        n_f0_bins: 512
        content_codebooks: 1
        is_causal: false
        long_skip_connection: true
        zero_prompt_speech_token: false
        time_as_token: false
        style_as_token: false
        uvit_skip_connection: true
        add_resblock_in_transformer: false
    wavenet: {hidden_dim: 64, num_layers: 1, kernel_size: 5, dilation_rate: 1, p_dropout: 0.2, style_condition: true}
gpt_checkpoint: gpt.pth
w2v_stat: wav2vec2bert_stats.pt
s2mel_checkpoint: s2mel.pth
emo_matrix: feat2.pt
spk_matrix: feat1.pt
emo_num: [3, 17, 2, 8, 4, 5, 10, 24]
qwen_emo_path: qwen0.6bemo4-merge/
vocoder: {type: "bigvgan", name: "nvidia/bigvgan_v2_22khz_80band_256x"}
version: 2.0
"""

BIGVGAN = {
    "resblock": "1", "upsample_rates": [4, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 64, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3]],
    "use_tanh_at_final": False, "use_bias_at_final": False, "activation": "snakebeta", "snake_logscale": True,
    "num_mels": 80, "num_freq": 1025, "n_fft": 1024, "hop_size": 256, "win_size": 1024, "sampling_rate": 22050,
    "fmin": 0, "fmax": None, "fmax_for_loss": None,
}

# text the BPE model is trained on: both languages of the test scene, letters of both cases
CORPUS = ["WHERE WERE YOU LAST NIGHT? TELL ME THE TRUTH. NOTHING HAPPENED, I PROMISE. FINE. HELLO THERE.",
          "where were you last night? tell me the truth. nothing happened, i promise. fine. hello there.",
          "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 , . ? ! ' -",
          "我们要重复昨天的实验。安静一点，好吗？好的，我知道了，我们马上开始准备。你好，谢谢，再见。",
          "CHONG2 ZHONG4 HAO3 MA5 WO3 MEN5"]


def hub_folder(cache: Path, repo: str) -> Path:
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(REV)
    snap = root / "snapshots" / REV
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def build(out: Path) -> None:
    import random

    import numpy as np
    import torch
    from omegaconf import OmegaConf

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(CONFIG, encoding="utf-8")
    cfg = OmegaConf.load(out / "config.yaml")
    cache = out / "hf_cache"

    # the BPE text model
    import sentencepiece as spm

    corpus = out / "bpe-corpus.txt"
    corpus.write_text("\n".join(CORPUS * 20) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(out / "bpe"), vocab_size=120,
                                   model_type="bpe", character_coverage=1.0, minloglevel=2)
    corpus.unlink()
    (out / "bpe.vocab").unlink(missing_ok=True)

    # the GPT (UnifiedVoice), its stop code biased down
    from indextts.gpt.model_v2 import UnifiedVoice

    gpt = UnifiedVoice(**cfg.gpt)
    with torch.no_grad():
        gpt.mel_head.bias[cfg.gpt.stop_mel_token] = STOP_BIAS
    torch.save(gpt.state_dict(), out / "gpt.pth")
    del gpt

    # the mel stage (s2mel: flow matching DiT, length regulator, GPT latent layer)
    from indextts.s2mel.modules.commons import MyModel

    s2mel = MyModel(cfg.s2mel, use_gpt_latent=True)
    torch.save({"net": {k: m.state_dict() for k, m in s2mel.models.items()}}, out / "s2mel.pth")
    del s2mel

    torch.save({"mean": torch.zeros(1024), "var": torch.ones(1024)}, out / "wav2vec2bert_stats.pt")
    rows = sum(cfg.emo_num)
    torch.save(torch.randn(rows, 192), out / "feat1.pt")          # speaker matrix: CAMPPlus styles
    torch.save(torch.randn(rows, 1280) * 0.02, out / "feat2.pt")  # emotion matrix: GPT-wide vectors

    # w2v-BERT 2.0: 1024 wide, 17 layers (index-tts reads hidden_states[17]); narrow feed-forward
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    snap = hub_folder(cache, "facebook/w2v-bert-2.0")
    w2v_cfg = Wav2Vec2BertConfig(hidden_size=1024, num_hidden_layers=17, num_attention_heads=16, intermediate_size=64,
                                 feature_projection_input_dim=160, conv_depthwise_kernel_size=3)
    w2v = Wav2Vec2BertModel(w2v_cfg)
    with torch.no_grad():        # _init_weights skips the relative positions: left empty, they make NaNs
        for layer in w2v.encoder.layers:
            emb = getattr(layer.self_attn, "distance_embedding", None)
            if emb is not None:
                emb.weight.normal_(0.0, 0.02)
    w2v.half().save_pretrained(snap, safe_serialization=True)
    del w2v
    SeamlessM4TFeatureExtractor().save_pretrained(snap)

    # the MaskGCT semantic codec (RepCodec): a 66-code book, so every GPT code is a valid index
    import safetensors.torch
    from indextts.utils.maskgct_utils import build_semantic_codec

    snap = hub_folder(cache, "amphion/MaskGCT")
    (snap / "semantic_codec").mkdir(exist_ok=True)
    safetensors.torch.save_model(build_semantic_codec(cfg.semantic_codec), str(snap / "semantic_codec" / "model.safetensors"))

    # CAMPPlus, its fixed architecture
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus

    snap = hub_folder(cache, "funasr/campplus")
    torch.save(CAMPPlus(feat_dim=80, embedding_size=192).state_dict(), snap / "campplus_cn_common.bin")

    # BigVGAN, 64 channels
    from indextts.s2mel.modules.bigvgan import bigvgan

    snap = hub_folder(cache, "nvidia/bigvgan_v2_22khz_80band_256x")
    (snap / "config.json").write_text(json.dumps(BIGVGAN), encoding="utf-8")
    voc = bigvgan.BigVGAN(bigvgan.AttrDict(BIGVGAN), use_cuda_kernel=False)
    torch.save({"generator": voc.state_dict()}, snap / "bigvgan_generator.pt")
    del voc

    build_qwen(out / "qwen0.6bemo4-merge")
    (out / "BUILT").write_text(f"seed {SEED}\n")


def build_qwen(folder: Path) -> None:
    """The emotion-from-a-sentence model: a 1-layer Qwen3 whose head is zero, with a byte-level
    tokenizer whose id 0 is the end of text, so generation stops at its first step (index-tts then
    falls back to a calm vector); it emits no token_type_ids, which generate() refuses."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {s: i for i, s in enumerate(specials)}
    for ch in pre_tokenizers.ByteLevel.alphabet():
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials)
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   chat_template=template, model_input_names=["input_ids", "attention_mask"])
    fast.save_pretrained(folder)
    qcfg = Qwen3Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=2048,
                       tie_word_embeddings=False, eos_token_id=0, bos_token_id=0, pad_token_id=0)
    model = Qwen3ForCausalLM(qcfg)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    model.generation_config.do_sample = False
    model.save_pretrained(folder, safe_serialization=True)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
