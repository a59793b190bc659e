"""A tiny, seeded, randomly initialised IndexTTS-2.5 ONNX model folder, built at test time for
``index-tts-2.5-onnx`` (the torch-free port): the nine graphs its ``engine.load_engines`` opens,
with exactly the input and output names, ranks, dtypes and fixed sizes its code feeds and reads
(80 mel bins, 1024-wide semantic features, 1280-wide GPT conditioning, a 192-wide style, 512-wide
mel conditions, 24 key/value layers, 8194 acoustic logits, 256 samples per mel frame), and the
frontend files its ``Frontend`` / ``W2VFeatures`` / ``IndexTTS2Core`` read: a byte-level tiktoken
vocabulary, the w2v-BERT feature extractor's configuration and the speaker projection.

Written here from the package's documented shapes (its ``engine.py`` docstring and
``core/protocols.py``), not copied from anything. The weights are random (``numpy`` seeded), so
nothing sounds like speech; two behaviours are built in on purpose so that a pipeline run is
meaningful and quick:

* the GPT stops after :data:`CODES_PER_TOKEN` codes per text token (a stop logit that grows with
  the decode position past that count, the text length read back from the key/value length),
  so a line's length follows its text as a trained model's does, whatever the sampling;
* its codes depend on the text, the speaker conditioning and the previous code (a real
  autoregressive dependence), and the vocoder output is never silent, so trimming edge silence
  keeps the rendered length.

``build(folder)`` writes the folder; ``python -m support.indextts25_onnx_model DIR`` too.
"""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np

SEED = 2025
OPSET = 17
IR_VERSION = 8
N_LAYERS = 24          # the port feeds past_kv_{0..23}_{k,v}
N_LOGITS = 8194        # 8192 codes + start (8192) and stop (8193)
STOP = 8193
SEM = 1024             # semantic features (w2v-BERT, codec latents)
COND = 1280            # GPT conditioning width (emotion vector, projected speaker)
STYLE = 192            # CAMPPlus style
MEL_COND = 512         # length regulator output, CFM condition
MELS = 80
HOP = 256              # BigVGAN samples per mel frame
W2V_FEATURES = 160     # SeamlessM4T features (80 mel bins, stride 2)
TEXT_VOCAB = 2048      # byte tokens + the port's special tokens (1 929) fit
KV_HEADS, KV_DIM = 1, 8
PREFIX = 4             # key/value rows before the first decode step: 3 conditioning + start
CODES_PER_TOKEN = 3    # codes per text token before the stop logit wins (~50 codes/s speech)

REQUIRED = ["campplus.onnx", "bigvgan.onnx", "length_regulator.onnx", "semantic_codec_decode.onnx",
            "emo_vec.onnx", "semantic_model/semantic_model.onnx", "gpt_prefill/gpt_prefill.onnx",
            "gpt_step/gpt_step.onnx", "cfm_estimator/cfm_estimator.onnx"]


def _helpers():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


class _Graph:
    """A small graph under construction: initializers from a seeded generator, nodes by op."""

    def __init__(self, name: str, rng: np.random.Generator):
        self.onnx, self.T, self.h, self.nh = _helpers()
        self.name, self.rng = name, rng
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._n = 0

    def _id(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def input(self, name: str, dtype, shape) -> str:
        self.inputs.append(self.h.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, value: str, name: str, dtype, shape) -> None:
        self.nodes.append(self.h.make_node("Identity", [value], [name]))
        self.outputs.append(self.h.make_tensor_value_info(name, dtype, shape))

    def const(self, array: np.ndarray, stem: str = "c") -> str:
        name = self._id(stem)
        self.inits.append(self.nh.from_array(np.asarray(array), name))
        return name

    def weight(self, *shape: int, scale: float | None = None) -> str:
        scale = (1.0 / np.sqrt(shape[0])) if scale is None else scale
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), "w")

    def op(self, op: str, *inputs: str, **attrs) -> str:
        out = self._id(op.lower())
        self.nodes.append(self.h.make_node(op, list(inputs), [out], **attrs))
        return out

    def i64(self, *values: int) -> str:
        return self.const(np.array(values, dtype=np.int64), "i")

    def f32(self, value: float) -> str:
        return self.const(np.array(value, dtype=np.float32), "f")

    def save(self, path: Path, external: bool = False) -> None:
        graph = self.h.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        model = self.h.make_model(graph, opset_imports=[self.h.make_opsetid("", OPSET)],
                                  producer_name="indextts-dub tests")
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        if external:     # the port's big graphs come with their weights beside them (NAME.onnx.data)
            self.onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                                 location=path.name + ".data", size_threshold=1024)
        else:
            self.onnx.save_model(model, str(path))


def _semantic_model(rng) -> _Graph:
    g = _Graph("semantic_model", rng)
    F = g.T.FLOAT
    x = g.input("input_features", F, [1, "T", W2V_FEATURES])
    mask = g.input("attention_mask", g.T.INT64, [1, "T"])
    h = g.op("Tanh", g.op("Add", g.op("MatMul", x, g.weight(W2V_FEATURES, SEM)), g.weight(SEM, scale=0.1)))
    m = g.op("Unsqueeze", g.op("Cast", mask, to=g.T.FLOAT), g.i64(2))
    g.output(g.op("Mul", h, m), "feat", F, [1, "T", SEM])
    return g


def _emo_vec(rng) -> _Graph:
    g = _Graph("emo_vec", rng)
    F = g.T.FLOAT
    feat = g.input("feat", F, [1, "T", SEM])
    g.input("ilens", g.T.INT64, [1])
    pooled = g.op("ReduceMean", feat, axes=[1], keepdims=0)
    g.output(g.op("Tanh", g.op("MatMul", pooled, g.weight(SEM, COND))), "emo_vec", F, [1, COND])
    return g


def _campplus(rng) -> _Graph:
    g = _Graph("campplus", rng)
    F = g.T.FLOAT
    fbank = g.input("fbank", F, [1, "T", MELS])
    stats = g.op("Concat", g.op("ReduceMean", fbank, axes=[1], keepdims=0),
                 g.op("ReduceMax", fbank, axes=[1], keepdims=0), axis=1)
    g.output(g.op("MatMul", stats, g.weight(2 * MELS, STYLE)), "embedding", F, [1, STYLE])
    return g


def _length_regulator(rng) -> _Graph:
    """x [1,T,1024] resampled (nearest) to the template's length, then projected to 512."""
    g = _Graph("length_regulator", rng)
    F = g.T.FLOAT
    x = g.input("x", F, [1, "T", SEM])
    template = g.input("template", F, [1, "T_out", 1])
    xt = g.op("Transpose", x, perm=[0, 2, 1])                                   # [1,1024,T]
    t_out = g.op("Slice", g.op("Shape", template), g.i64(1), g.i64(2))          # [T_out]
    sizes = g.op("Concat", g.i64(1, SEM), t_out, axis=0)
    resized = g.op("Resize", xt, "", "", sizes, mode="nearest")
    y = g.op("Transpose", resized, perm=[0, 2, 1])                              # [1,T_out,1024]
    g.output(g.op("Tanh", g.op("MatMul", y, g.weight(SEM, MEL_COND))), "cond", F, [1, "T_out", MEL_COND])
    return g


def _codec_decode(rng) -> _Graph:
    g = _Graph("semantic_codec_decode", rng)
    F = g.T.FLOAT
    codes = g.input("codes", g.T.INT64, [1, "T"])
    table = g.weight(N_LOGITS, 16, scale=1.0)
    emb = g.op("Gather", table, codes, axis=0)                                   # [1,T,16]
    g.output(g.op("Tanh", g.op("MatMul", emb, g.weight(16, SEM))), "latent", F, [1, "T", SEM])
    return g


def _stop_logits(g: _Graph, hidden: str, position: str, text_len: str, head: str) -> str:
    """Logits [1,8194]: a random projection of ``hidden`` [1,32], plus a stop logit that wins
    once the decode position passes CODES_PER_TOKEN codes per text token."""
    logits = g.op("MatMul", hidden, head)
    over = g.op("Sub", g.op("Cast", position, to=g.T.FLOAT),
                g.op("Mul", g.op("Cast", text_len, to=g.T.FLOAT), g.f32(float(CODES_PER_TOKEN))))
    onehot = np.zeros((1, N_LOGITS), np.float32)
    onehot[0, STOP] = 1.0
    stop = g.op("Mul", g.op("Mul", g.op("Add", over, g.f32(0.5)), g.f32(60.0)), g.const(onehot))
    return g.op("Add", logits, stop)


def _gpt(rng) -> tuple[_Graph, _Graph]:
    head = (rng.standard_normal((32, N_LOGITS)) * 0.6).astype(np.float32)
    head[:, STOP] = 0.0
    text_table = rng.standard_normal((TEXT_VOCAB, 32)).astype(np.float32)
    lang_table = (rng.standard_normal((128, 32)) * 0.5).astype(np.float32)
    code_table = rng.standard_normal((N_LOGITS, 32)).astype(np.float32)
    cond_proj = (rng.standard_normal((COND, 32)) / np.sqrt(COND)).astype(np.float32)
    layer_w = [(rng.standard_normal((32, KV_HEADS * KV_DIM)) / np.sqrt(32)).astype(np.float32)
               for _ in range(2 * N_LAYERS)]
    mix = (rng.standard_normal((KV_DIM, 32)) / np.sqrt(KV_DIM)).astype(np.float32)

    # prefill: text_ids [1,L], conds [1,3,1280], lang_id [1] -> logits [1,8194], 48 x [1,1,L+4,8]
    pre = _Graph("gpt_prefill", rng)
    F, I = pre.T.FLOAT, pre.T.INT64
    ids = pre.input("text_ids", I, [1, "L"])
    conds = pre.input("conds", F, [1, 3, COND])
    lang = pre.input("lang_id", I, [1])
    text = pre.op("Gather", pre.const(text_table), ids, axis=0)                       # [1,L,32]
    lang_row = pre.op("Unsqueeze", pre.op("Gather", pre.const(lang_table), lang, axis=0), pre.i64(0))  # [1,1,32]
    cond_rows = pre.op("MatMul", conds, pre.const(cond_proj))                          # [1,3,32]
    start = pre.op("Unsqueeze", pre.op("Gather", pre.const(code_table), pre.i64(8192), axis=0), pre.i64(0))
    rows = pre.op("Tanh", pre.op("Concat", cond_rows, pre.op("Add", text, lang_row), start, axis=1))  # [1,L+4,32]
    kv_out = []
    for i in range(2 * N_LAYERS):
        kv_out.append(pre.op("Unsqueeze", pre.op("MatMul", rows, pre.const(layer_w[i])), pre.i64(1)))
    text_len = pre.op("Slice", pre.op("Shape", ids), pre.i64(1), pre.i64(2))            # [1]
    hidden = pre.op("ReduceMean", rows, axes=[1], keepdims=0)                          # [1,32]
    logits = _stop_logits(pre, hidden, pre.i64(0), text_len, pre.const(head))
    pre.output(logits, "logits", F, [1, N_LOGITS])
    for i, kv in enumerate(kv_out):
        pre.output(kv, f"present_kv_{i // 2}_{'kv'[i % 2]}", F, [1, KV_HEADS, "S", KV_DIM])

    # step: token [1,1], pos_idx [1], past 48 x [1,1,S,8] -> logits [1,8194], 48 x [1,1,S+1,8]
    step = _Graph("gpt_step", rng)
    token = step.input("token", I, [1, 1])
    pos = step.input("pos_idx", I, [1])
    pasts = [step.input(f"past_kv_{i // 2}_{'kv'[i % 2]}", F, [1, KV_HEADS, "S", KV_DIM])
             for i in range(2 * N_LAYERS)]
    emb = step.op("Gather", step.const(code_table), token, axis=0)                     # [1,1,32]
    pos_row = step.op("Unsqueeze", step.op("Sin", step.op("Mul", step.op("Cast", pos, to=F), step.f32(0.37))),
                      step.i64(0))                                                     # [1,1]
    new_rows = step.op("Tanh", step.op("Add", emb, pos_row))
    presents = []
    for i, past in enumerate(pasts):
        new = step.op("Unsqueeze", step.op("MatMul", new_rows, step.const(layer_w[i])), step.i64(1))
        presents.append(step.op("Concat", past, new, axis=2))
    # what was said so far (the first layer's values, averaged) and the code just spoken
    context = step.op("MatMul", step.op("ReduceMean", step.op("Squeeze", pasts[1], step.i64(1)), axes=[1],
                                        keepdims=0), step.const(mix))                  # [1,32]
    hidden = step.op("Tanh", step.op("Add", context, step.op("Squeeze", emb, step.i64(1))))
    # the text length: past rows = L + PREFIX + (pos_idx - 2) decode rows
    past_len = step.op("Slice", step.op("Shape", pasts[0]), step.i64(2), step.i64(3))
    text_len = step.op("Sub", step.op("Sub", past_len, pos), step.i64(PREFIX - 2))
    logits = _stop_logits(step, hidden, pos, text_len, step.const(head))
    step.output(logits, "logits", F, [1, N_LOGITS])
    for i, kv in enumerate(presents):
        step.output(kv, f"present_kv_{i // 2}_{'kv'[i % 2]}", F, [1, KV_HEADS, "S1", KV_DIM])
    return pre, step


def _cfm(rng) -> _Graph:
    """A velocity field pulling x toward a log-mel built from the condition, style and prompt."""
    g = _Graph("cfm_estimator", rng)
    F = g.T.FLOAT
    x = g.input("x", F, [2, MELS, "T"])
    prompt = g.input("prompt_x", F, [2, MELS, "T"])
    g.input("x_lens", g.T.INT64, [1])
    t = g.input("t", F, [2])
    style = g.input("style", F, [2, STYLE])
    cond = g.input("cond", F, [2, "T", MEL_COND])
    shape = g.op("Transpose", g.op("MatMul", cond, g.weight(MEL_COND, MELS)), perm=[0, 2, 1])  # [2,80,T]
    colour = g.op("Unsqueeze", g.op("MatMul", style, g.weight(STYLE, MELS, scale=0.02)), g.i64(2))
    prompt_mean = g.op("ReduceMean", prompt, axes=[2], keepdims=1)                             # [2,80,1]
    target = g.op("Add", g.op("Add", g.op("Mul", g.op("Tanh", shape), g.f32(2.5)), colour),
                  g.op("Add", g.op("Mul", prompt_mean, g.f32(0.3)), g.f32(-4.0)))
    speed = g.op("Add", g.op("Unsqueeze", t, g.i64(1, 2)), g.f32(1.0))                         # [2,1,1]
    g.output(g.op("Mul", g.op("Sub", target, x), speed), "velocity", F, [2, MELS, "T"])
    return g


def _bigvgan(rng) -> _Graph:
    """mel [1,80,T] -> [1,1,T*256]: each frame's 256 samples from a random projection, never silent."""
    g = _Graph("bigvgan", rng)
    F = g.T.FLOAT
    mel = g.input("mel", F, [1, MELS, "T"])
    frames = g.op("Transpose", mel, perm=[0, 2, 1])                                     # [1,T,80]
    level = g.op("Sigmoid", g.op("Add", g.op("ReduceMean", frames, axes=[2], keepdims=1), g.f32(4.0)))
    wave = g.op("Mul", g.op("Tanh", g.op("MatMul", frames, g.weight(MELS, HOP, scale=0.02))),
                g.op("Add", g.op("Mul", level, g.f32(0.3)), g.f32(0.1)))                # [1,T,256]
    g.output(g.op("Reshape", wave, g.i64(1, 1, -1)), "wav", F, [1, 1, "N"])
    return g


FEATURE_EXTRACTOR = {           # w2v-BERT 2.0's feature extractor settings (SeamlessM4T features)
    "feature_extractor_type": "SeamlessM4TFeatureExtractor",
    "feature_size": 80, "num_mel_bins": 80, "padding_side": "right", "padding_value": 1,
    "processor_class": "Wav2Vec2BertProcessor", "return_attention_mask": True,
    "sampling_rate": 16000, "stride": 2,
}


def build(folder: Path, seed: int = SEED) -> Path:
    """Write the tiny model folder (see the module docstring); returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    _campplus(rng).save(folder / "campplus.onnx")
    _bigvgan(rng).save(folder / "bigvgan.onnx")
    _length_regulator(rng).save(folder / "length_regulator.onnx")
    _codec_decode(rng).save(folder / "semantic_codec_decode.onnx")
    _emo_vec(rng).save(folder / "emo_vec.onnx")
    _semantic_model(rng).save(folder / "semantic_model" / "semantic_model.onnx", external=True)
    pre, step = _gpt(rng)
    pre.save(folder / "gpt_prefill" / "gpt_prefill.onnx", external=True)
    step.save(folder / "gpt_step" / "gpt_step.onnx", external=True)
    _cfm(rng).save(folder / "cfm_estimator" / "cfm_estimator.onnx")
    # a byte-level tiktoken vocabulary: every byte its own token, no merges (the port adds its
    # special tokens after these ranks)
    (folder / "multilingual_zh_ja_yue_char_del.tiktoken").write_text(
        "".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    np.savez(folder / "spk_proj.npz", weight=(rng.standard_normal((COND, STYLE)) * 0.05).astype(np.float32),
             bias=np.zeros(COND, np.float32))
    w2v = folder / "hf_cache" / "w2v-bert-2.0"
    w2v.mkdir(parents=True, exist_ok=True)
    (w2v / "preprocessor_config.json").write_text(json.dumps(FEATURE_EXTRACTOR, indent=1))
    (w2v / "config.json").write_text(json.dumps({"model_type": "wav2vec2-bert", "hidden_size": SEM}))
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
