"""IndexTTS2 as an engine: zero-shot voices from a reference clip, emotion in IndexTTS2's four
forms, and each line rendered at its planned length by the model itself.

Runs IndexTTS-2 (``indextts.infer_v2``) or IndexTTS-2.5 (``indextts.infer_v2_5``), whichever
the checkpoint folder holds (or ``model: "2"`` / ``"2.5"``); index-tts is installed from its
repository (see the README). torch and index-tts are imported when the engine loads, never
when the package is imported, described or a casting file is read.

How a line becomes audio (everything through index-tts's own ``IndexTTS2.infer``):

* **Voice**: the character's reference clip (``ref:``, a library voice, or a built-in voice of
  another engine spoken as a prompt) is the speaker prompt. It reaches the model as a file
  named by the SHA-256 of its normalised samples, so the path *is* the content.
* **Conditioning** (w2v-bert features, CAMPPlus style, prompt mel, prompt condition, emotion
  features) is computed by ``infer`` the first time a clip is seen, then kept by clip content
  and model checksum in memory and on disk (:mod:`indextts_dub.condstore`: the voice
  library's ``conditioning`` table, or a cache file) and handed back to the model before each
  line through the attributes ``infer`` caches it in. index-tts itself caches one prompt,
  keyed by its path string: alternating characters would recompute it every line, and a
  file replaced at the same path would be stale. Neither happens here.
* **Emotion**: presets and vectors go to ``emo_vector`` in IndexTTS2's order (happy, angry,
  sad, afraid, disgusted, melancholic, surprised, calm) normalised as the official web UI
  does (``normalize_emo_vec``: per-emotion biases, then the sum capped at 0.8) with
  ``emo_alpha``; a clip to ``emo_audio_prompt`` with ``emo_alpha``; a sentence to
  ``use_emo_text``/``emo_text`` with ``emo_alpha``; no emotion: the speaker clip's own.
* **Text**: Mandarin goes through the Chinese front end: polyphones and user pinyin become
  tone-number syllables (``chong2``, IndexTTS-2) or pronunciation marks
  (``<重|CHONG2>``, IndexTTS-2.5).
* **Seeds**: python's, numpy's and torch's generators are seeded from the take's content right
  before each segment's GPT stage and again before its mel stage, so the same inputs give the
  same take whatever ran before (conditioning computed or reused: transformers' w2v-BERT draws a
  random number per layer; the GPT stage run or its codes reused), and the take cache and
  re-runs agree.
* **Hub settings**: huggingface_hub and transformers fix their cache folder and offline flag
  when first imported; while index-tts is imported and built, their own settings point at the
  auxiliary models' folder, offline (the PyPI build, ``indextts2-cli``, reads the auxiliary
  models only through that cache), and are put back afterwards.

Exact length (``Request.target_samples``): the autoregressive (GPT) stage runs once per line
content (its codes are kept in memory, wrapped around ``gpt.inference_speech``); the
flow-matching mel stage is rendered with a target length scaled from the natural one by
``target / natural``: IndexTTS-2.5 through ``infer(duration_factor=...)``, IndexTTS-2 through
a forward pre-hook on the mel stage's length regulator that scales its ``ylens`` (the
``code_len * 1.72`` frames ``infer`` computes), the same scaling. The speech is measured
after trimming edge silence; when it misses by more than one mel frame (256 samples at
22.05 kHz) the mel stage alone is rendered again with a corrected factor (at most
:data:`MEL_RENDERS` renders). Where neither way in exists, the natural take is stretched
(Rubber Band) and the engine's notes say so.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import json
import os
import random
import sys
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import indextts2_files as files
from . import refclip
from .exact import solve_factor
from .base import Engine, EngineConfigError, EngineError, EngineInfo, Request
from .condstore import ConditioningStore

NAME = "indextts2"
MEL_RENDERS = 3                  # mel-stage renders per exact-length take, at most
DURATION_FACTOR_RANGE = (0.5, 2.0)   # IndexTTS-2.5's documented range; applied to both versions
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_SPEAKER_ATTRS = {"spk_cond": "cache_spk_cond", "style": "cache_s2mel_style",
                  "prompt": "cache_s2mel_prompt", "mel": "cache_mel"}
_EMOTION_ATTRS = {"emo_cond": "cache_emo_cond"}
GENERATION_KEYS = ("do_sample", "top_p", "top_k", "temperature", "num_beams", "repetition_penalty",
                   "length_penalty", "max_mel_tokens", "typical_sampling", "typical_mass")

# every option the engine takes (cast engine_options or --engine-option KEY=VALUE)
OPTIONS = {
    "checkpoints": "the checkpoint folder (default $INDEXTTS2_CHECKPOINTS, else ./checkpoints)",
    "aux_dir": "folder of the auxiliary models (default <checkpoints>/hf_cache)",
    "config": "the model configuration inside the checkpoint folder (default config.yaml)",
    "model": "auto, 2 or 2.5 (default: what the checkpoint folder holds)",
    "device": "cuda, cuda:1, cpu, mps ... (default: index-tts's choice)",
    "precision": "auto, fp32, fp16 (IndexTTS-2) or bf16 (IndexTTS-2.5)",
    "emotion_text": "auto, true or false: load the Qwen model that reads emotion from a sentence",
    "emotion_bias": "true (default) or false: the web UI's per-emotion biases on vectors",
    "allow_download": "true to let index-tts download missing models (default false: never)",
    "conditioning_cache": "file for conditioning of clips outside a voice library",
    "voice_library": "the run's voice library (set by the pipeline)",
    "generation": "mapping of generation settings: " + ", ".join(GENERATION_KEYS),
    "max_text_tokens_per_segment": "index-tts's segment length in tokens (default 120)",
    "interval_silence": "ms of silence between segments of a long line (default 200)",
    "cuda_kernel": "BigVGAN's fused CUDA kernel (default: index-tts's choice)",
    "deepspeed": "true to use DeepSpeed", "accel": "true to use index-tts's GPT accel engine",
    "torch_compile": "true to torch.compile the mel stage",
    "verbose": "true to show index-tts's own output",
}


def _bool(value: Any, name: str, problems: list, allow_auto: bool = False) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if allow_auto and low == "auto":
            return "auto"
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
    problems.append((name, f"{name}: {value!r} must be true or false" + (" or auto" if allow_auto else "")))
    return None


def parse_options(options: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    """Options with defaults and types, and every problem with them (unknown names included)."""
    problems: list[tuple[str | None, str]] = []
    o = dict(options)
    for key in o:
        if key not in OPTIONS:
            problems.append((key, f"{key}: unknown option of engine indextts2; known: {', '.join(OPTIONS)}"))
    out: dict[str, Any] = {}
    for key in ("checkpoints", "aux_dir", "config", "conditioning_cache", "voice_library", "device"):
        v = o.get(key)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            problems.append((key, f"{key}: must be a {'device name' if key == 'device' else 'path'}, not {v!r}"))
            v = None
        out[key] = v.strip() if isinstance(v, str) else None
    model = str(o.get("model", "auto")).strip().lower()
    model = {"2.0": "2", "indextts-2": "2", "indextts-2.5": "2.5", "v2": "2", "v2.5": "2.5"}.get(model, model)
    if model not in ("auto", *files.VERSIONS):
        problems.append(("model", f"model: {o.get('model')!r} is not auto, 2 or 2.5"))
        model = "auto"
    out["model"] = model
    precision = str(o.get("precision", "auto")).strip().lower()
    if precision not in PRECISIONS:
        problems.append(("precision", f"precision: {o.get('precision')!r} is not one of {', '.join(PRECISIONS)}"))
        precision = "auto"
    out["precision"] = precision
    out["emotion_text"] = _bool(o.get("emotion_text", "auto"), "emotion_text", problems, allow_auto=True)
    for key, default in (("emotion_bias", True), ("allow_download", False), ("deepspeed", False), ("accel", False),
                         ("torch_compile", False), ("verbose", False), ("cuda_kernel", None)):
        out[key] = _bool(o.get(key, default), key, problems)
        if out[key] is None:
            out[key] = default
    gen = o.get("generation") or {}
    if not isinstance(gen, dict):
        problems.append(("generation", "generation: must map settings to values, e.g. {temperature: 0.8}"))
        gen = {}
    for k in gen:
        if k not in GENERATION_KEYS:
            problems.append(("generation", f"generation.{k}: unknown; known: {', '.join(GENERATION_KEYS)}"))
    out["generation"] = {k: v for k, v in gen.items() if k in GENERATION_KEYS}
    for key, default, lo in (("max_text_tokens_per_segment", 120, 20), ("interval_silence", 200, 0)):
        v = o.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            problems.append((key, f"{key}: must be a whole number of at least {lo}, not {v!r}"))
            v = default
        out[key] = v
    return out, problems


def _layout(opts: dict[str, Any]) -> files.Layout:
    return files.layout(opts["checkpoints"], opts["aux_dir"], opts["model"], opts["config"], opts["emotion_text"])


def default_device() -> str:
    """Where index-tts runs when no device is given, judged without importing torch: index-tts
    takes CUDA when there is a GPU (an NVIDIA driver's device), else Apple's MPS on a Mac, else the CPU."""
    if sys.platform == "darwin":
        return "mps"
    gpus = Path("/proc/driver/nvidia/gpus")
    if (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists():
        return "cuda"
    return "cpu"


def _requested_precision(opts: dict[str, Any], version: str) -> str:
    p = opts["precision"]
    if p == "auto":
        return "bf16" if version == "2.5" else "fp32"
    return p


def _precision(opts: dict[str, Any], version: str) -> str:
    """The precision the model will run at: index-tts drops half precision on the CPU (and
    IndexTTS-2's fp16 on MPS), whatever it is asked."""
    p = _requested_precision(opts, version)
    device = (opts["device"] or default_device()).lower()
    if device.startswith("cpu") or (version == "2" and device.startswith("mps")):
        return "fp32"
    return p


def _file_option(opts: dict[str, Any]) -> str | None:
    for key in ("checkpoints", "aux_dir", "model"):
        if opts.get(key) not in (None, "auto"):
            return key
    return None


_HUB_SAVED: list[list[tuple[Any, str, Any]]] = []


def _hub_constants(cache: str, offline: bool) -> None:
    """Point huggingface_hub's and transformers' own settings at ``cache`` (and offline): both read
    ``HF_HUB_CACHE`` / ``HF_HUB_OFFLINE`` once, when first imported, so the environment alone
    changes nothing once anything in the process imported them. What was there is remembered
    (in :func:`_hub_settings`) and put back."""
    settings = [("huggingface_hub.constants", "HF_HUB_CACHE", cache),
                ("transformers.utils.hub", "TRANSFORMERS_CACHE", cache),
                ("transformers.utils.hub", "HF_HUB_CACHE", cache),
                ("transformers.utils.hub", "PYTORCH_TRANSFORMERS_CACHE", cache),
                ("transformers.utils.hub", "PYTORCH_PRETRAINED_BERT_CACHE", cache)]
    if offline:
        settings += [("huggingface_hub.constants", "HF_HUB_OFFLINE", True),
                     ("transformers.utils.hub", "_is_offline_mode", True)]
    saved = _HUB_SAVED[-1] if _HUB_SAVED else []
    for module, attr, value in settings:
        mod = sys.modules.get(module)
        if mod is None or not hasattr(mod, attr):
            continue
        if not any(m is mod and a == attr for m, a, _ in saved):
            saved.append((mod, attr, getattr(mod, attr)))
        setattr(mod, attr, value)


@contextlib.contextmanager
def _hub_settings(cache: str, offline: bool):
    """While index-tts is imported and built: the Hugging Face cache is ``cache`` and, unless
    downloads are allowed, offline, for libraries imported before or during index-tts's import.
    Afterwards the process's own settings are back (what the environment, or index-tts's import,
    made them), apart from the offline environment variables, which stay (nothing may download
    unless asked)."""
    if offline:
        os.environ.update(OFFLINE_ENV)
    before = os.environ.get("HF_HUB_CACHE")
    _HUB_SAVED.append([])
    _hub_constants(cache, offline)
    try:
        yield
    finally:
        for mod, attr, value in reversed(_HUB_SAVED.pop()):
            setattr(mod, attr, value)
        # index-tts sets HF_HUB_CACHE=./checkpoints/hf_cache at import (relative to the working
        # folder): every model here comes from the folder the check found, so put back what was there
        if before is None:
            os.environ.pop("HF_HUB_CACHE", None)
        else:
            os.environ["HF_HUB_CACHE"] = before


def _clip_file(path: str, expected_hash: str | None, what: str) -> tuple[str, str]:
    """A clip as a file named by its content hash (:func:`refclip.hashed_file`)."""
    try:
        return refclip.hashed_file(path, expected_hash, what)
    except refclip.ClipError as exc:
        raise EngineError(str(exc)) from None


class IndexTTS2Engine(Engine):
    """IndexTTS-2 / IndexTTS-2.5 through index-tts's ``IndexTTS2`` (see the module docstring)."""

    name = NAME
    path_options = ("checkpoints", "aux_dir", "conditioning_cache", "voice_library")
    run_options = ("voice_library",)

    # ------------------------------------------------------------------ cheap: no torch

    @classmethod
    def describe(cls, **options: Any) -> EngineInfo:
        opts, _ = parse_options(options)
        lay = _layout(opts)
        precision = _precision(opts, lay.version)
        return EngineInfo(
            name=NAME,
            version=lay.label,
            sample_rate=lay.sample_rate,
            languages=("zh", "en"),
            voices=(),
            native_speed=False,
            speed_range=DURATION_FACTOR_RANGE,
            exact_length=True,
            emotion=True,
            reference_voice=True,
            voice_blends=False,
            model_id=f"{lay.fingerprint()}-{precision}",
        )

    @classmethod
    def check(cls, **options: Any) -> None:
        """Every problem with the options and files, in one :class:`EngineConfigError`; loads nothing."""
        opts, problems = parse_options(options)
        lay = _layout(opts)
        precision = _requested_precision(opts, lay.version)
        if precision == "bf16" and lay.version == "2":
            problems.append(("precision", "precision: IndexTTS-2 runs fp32 or fp16 (bf16 is IndexTTS-2.5's)"))
        if precision == "fp16" and lay.version == "2.5":
            problems.append(("precision", "precision: IndexTTS-2.5 runs fp32 or bf16 (fp16 is IndexTTS-2's)"))
        missing = lay.missing()
        if opts["allow_download"]:
            missing = [n for n in missing if n.group == "packages"]   # the rest may be fetched, as asked
        if missing:
            problems.append((_file_option(opts), files.missing_message(lay, missing)))
        if problems:
            raise EngineConfigError(NAME, problems)

    # ------------------------------------------------------------------ loading

    def __init__(self, **options: Any):
        self.check(**options)
        self.opts, _ = parse_options(options)
        self.layout = _layout(self.opts)
        self.info = self.describe(**options)
        self.version = self.layout.version
        self.precision = _precision(self.opts, self.version)
        self.notes: list[str] = []
        self.stats = {"gpt_runs": 0, "gpt_reused": 0, "mel_renders": 0, "conditioning_computed": 0,
                      "conditioning_from_disk": 0, "conditioning_from_memory": 0, "stretched": 0, "batches": 0}
        self.store = ConditioningStore(self.opts["voice_library"], self.opts["conditioning_cache"])
        self._cond: OrderedDict[tuple[str, str], dict] = OrderedDict()     # (clip hash, kind) -> tensors
        self._gpt: OrderedDict[tuple, Any] = OrderedDict()                  # (take key, segment) -> outputs
        self._natural: dict[str, int] = {}        # take key -> natural speech samples (engine rate)
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()   # take key -> natural audio (a few)
        self._lock = threading.Lock()
        self._log = io.StringIO()
        self._gpt_key: str | None = None
        self._segment = -1
        self._in_segment = False
        self._scale: float | None = None
        self._frames: list[tuple[int, int]] = []  # (natural, rendered) mel frames per segment, last render
        self._load()

    @contextlib.contextmanager
    def _quiet(self):
        """index-tts and the libraries under it print, log and draw progress bars: keep all of it
        off the terminal (kept for error messages), or on stderr with ``verbose``."""
        if self.opts["verbose"]:
            with contextlib.redirect_stdout(sys.stderr):
                yield
            return
        tf_logging = getattr(sys.modules.get("transformers"), "logging", None)
        level = tf_logging.get_verbosity() if tf_logging is not None else None
        try:
            if tf_logging is not None:
                tf_logging.set_verbosity_error()
            with contextlib.redirect_stdout(self._log), contextlib.redirect_stderr(self._log):
                yield
        finally:
            if tf_logging is not None and level is not None:
                tf_logging.set_verbosity(level)
            if self._log.tell() > 65536:          # keep the tail only
                tail = self._log.getvalue()[-16384:]
                self._log = io.StringIO()
                self._log.write(tail)

    def _log_tail(self) -> str:
        lines = self._log.getvalue().strip().splitlines()[-8:]
        return ("\n  index-tts said:\n    " + "\n    ".join(lines)) if lines else ""

    def _load(self) -> None:
        with _hub_settings(str(self.layout.aux_dir), offline=not self.opts["allow_download"]):
            self._build()

    def _build(self) -> None:
        lay, opts = self.layout, self.opts
        try:
            import torch
            module = importlib.import_module(f"indextts.{files.MODULES[self.version]}")
        except Exception as exc:       # ImportError, or an import-time failure inside index-tts
            raise EngineError(f"IndexTTS2 ({lay.label}) cannot be imported ({type(exc).__name__}: {exc}); "
                              "install it as the README's 'IndexTTS2 engine' section says") from None
        _hub_constants(str(lay.aux_dir), not opts["allow_download"])     # imported by now, or before
        self.torch = torch
        cls = module.IndexTTS2
        params = inspect.signature(cls.__init__).parameters
        aux_paths = dict(lay.aux_paths)
        if opts["allow_download"]:
            aux_paths = self._download(module) or aux_paths
        kw: dict[str, Any] = {"cfg_path": str(lay.config), "model_dir": str(lay.checkpoints)}
        if opts["device"]:
            kw["device"] = opts["device"]
        asked = _requested_precision(opts, self.version)
        if "use_fp16" in params:
            kw["use_fp16"] = asked == "fp16"
        if "use_bf16" in params:
            kw["use_bf16"] = asked == "bf16"
        for opt, arg in (("cuda_kernel", "use_cuda_kernel"), ("deepspeed", "use_deepspeed"), ("accel", "use_accel"),
                         ("torch_compile", "use_torch_compile")):
            if arg in params and opts[opt] is not None:
                kw[arg] = opts[opt]
        qwen = opts["emotion_text"]
        self.emotion_text = lay.qwen.is_dir() if qwen == "auto" else bool(qwen)
        if "use_qwen_emo" in params:
            kw["use_qwen_emo"] = self.emotion_text
        if "aux_paths" in params:
            kw["aux_paths"] = aux_paths
        try:
            with self._quiet():
                self.tts = cls(**kw)
        except Exception as exc:
            raise EngineError(f"IndexTTS2 ({lay.label}) failed to load from {lay.checkpoints}: "
                              f"{type(exc).__name__}: {exc}{self._log_tail()}") from None
        self.sig = inspect.signature(self.tts.infer).parameters
        self.exact_mode = self._install_hooks()
        device = getattr(self.tts, "device", opts["device"] or "auto")
        # the precision it runs at, as the model says (index-tts drops half precision on the CPU)
        if hasattr(self.tts, "use_fp16") or hasattr(self.tts, "use_bf16"):
            ran = ("fp16" if getattr(self.tts, "use_fp16", False) else
                   "bf16" if getattr(self.tts, "use_bf16", False) else "fp32")
            if ran != self.precision:
                self.precision = ran
                self.info = replace(self.info, model_id=f"{lay.fingerprint()}-{ran}")
        if opts["precision"] not in ("auto", self.precision):
            self.notes.append(f"IndexTTS2 engine: {opts['precision']} was asked; index-tts runs "
                              f"{self.precision} on {device}")
        how = {"duration_factor": "mel stage rendered at the target length through duration_factor "
                                  "(GPT stage once per line)",
               "length_regulator": "mel stage rendered at the target length by scaling the length "
                                   "regulator's target (GPT stage once per line)",
               "stretcher": "this index-tts build offers no way to set the mel stage's length: "
                            "lines are stretched to their target (Rubber Band) instead"}[self.exact_mode]
        self.notes.append(f"IndexTTS2 engine: {lay.label} from {lay.checkpoints}, {self.precision}, "
                          f"device {device}; exact length: {how}")

    def _download(self, module) -> dict | None:
        """Only with ``allow_download``: let index-tts fetch what is missing, once."""
        for k in OFFLINE_ENV:
            os.environ.pop(k, None)
        try:
            md = importlib.import_module("indextts.utils.model_download")
        except ImportError:
            return None
        lay = self.layout
        with self._quiet():
            if any(n.group == "checkpoints" and not n.present() for n in lay.needs):
                md.snapshot_download(files.REPOS[self.version], local_dir=str(lay.checkpoints))
            paths = md.ensure_models_available(str(lay.checkpoints))
        self.notes.append(f"downloaded missing IndexTTS2 files into {lay.checkpoints} (allow_download)")
        return paths

    # ------------------------------------------------------------------ interception points

    def _install_hooks(self) -> str:
        """Keep GPT outputs per line content, and reach the mel stage's target length."""
        tts = self.tts
        gpt = getattr(tts, "gpt", None)
        if gpt is not None and hasattr(gpt, "inference_speech"):
            original = gpt.inference_speech

            def inference_speech(*args, **kwargs):
                self._segment += 1
                self._in_segment = True
                key = None if self._gpt_key is None else (self._gpt_key, self._segment)
                if key is not None and key in self._gpt:
                    self._gpt.move_to_end(key)
                    self.stats["gpt_reused"] += 1
                    self._seed(self._gpt_key, self._segment, "mel")
                    return _to(self._gpt[key], getattr(tts, "device", None))
                # seeded right before generation: what ran before it (conditioning computed or
                # not: w2v-BERT draws random numbers) never changes a take
                if self._gpt_key is not None:
                    self._seed(self._gpt_key, self._segment, "gpt")
                out = original(*args, **kwargs)
                self.stats["gpt_runs"] += 1
                if key is not None:
                    self._gpt[key] = _to(out, "cpu")
                    while len(self._gpt) > 2048:      # codes and a small latent per line, on the CPU
                        self._gpt.popitem(last=False)
                    # the mel stage's noise: the same whether the GPT stage ran or was reused
                    self._seed(self._gpt_key, self._segment, "mel")
                return out

            gpt.inference_speech = inference_speech       # an instance attribute: this model only
        regulator = None
        try:
            regulator = tts.s2mel.models["length_regulator"]
        except (AttributeError, KeyError, TypeError):
            regulator = None
        hooked = False
        wrapped = gpt is not None and hasattr(gpt, "inference_speech")
        # the wrapper marks where the segments start: before it, the regulator sizes the prompt
        if wrapped and regulator is not None and hasattr(regulator, "register_forward_pre_hook"):
            def pre_hook(module, args, kwargs):
                if not self._in_segment or "ylens" not in kwargs:
                    return None            # the prompt's own length (conditioning), untouched
                ylens = kwargs["ylens"]
                natural = int(np.asarray(_numpy(ylens)).reshape(-1)[0])
                if self._scale is None or self.exact_mode != "length_regulator":
                    self._frames.append((natural, natural))
                    return None
                frames = max(1, int(round(natural * self._scale)))
                self._frames.append((natural, frames))
                new = self.torch.tensor([frames], dtype=ylens.dtype, device=ylens.device)
                return args, {**kwargs, "ylens": new}

            try:
                regulator.register_forward_pre_hook(pre_hook, with_kwargs=True)
                hooked = True
            except TypeError:          # a torch without with_kwargs
                hooked = False
        if "duration_factor" in self.sig:
            return "duration_factor"
        return "length_regulator" if hooked else "stretcher"

    # ------------------------------------------------------------------ conditioning by content

    def _store_version(self) -> str:
        return f"{self.info.version}|{self.info.model_id}"

    def _cond_get(self, clip_hash: str, kind: str) -> dict | None:
        key = (clip_hash, kind)
        if key in self._cond:
            self._cond.move_to_end(key)
            self.stats["conditioning_from_memory"] += 1
            return self._cond[key]
        data = self.store.get(NAME, self._store_version(), clip_hash, kind)
        if data is None:
            return None
        try:
            tensors = self.torch.load(io.BytesIO(data), map_location=getattr(self.tts, "device", None),
                                      weights_only=True)
        except Exception:
            return None        # unreadable: compute it again
        self.stats["conditioning_from_disk"] += 1
        self._cond_keep(key, tensors)
        return tensors

    def _cond_keep(self, key: tuple[str, str], tensors: dict) -> None:
        self._cond[key] = tensors
        while len(self._cond) > 32:
            self._cond.popitem(last=False)

    def _inject(self, spk: tuple[str, str], emo: tuple[str, str]) -> tuple[bool, bool]:
        """Hand the model the conditioning of these clips (path, hash) before ``infer``; False
        where it must compute it (then ``infer`` recomputes from the hash-named file)."""
        tts = self.tts
        got = []
        for (path, clip_hash), kind, attrs, marker in ((spk, "speaker", _SPEAKER_ATTRS, "cache_spk_audio_prompt"),
                                                       (emo, "emotion", _EMOTION_ATTRS, "cache_emo_audio_prompt")):
            cond = self._cond_get(clip_hash, kind)
            if cond is not None and all(k in cond for k in attrs):
                for k, attr in attrs.items():
                    setattr(tts, attr, cond[k])
                setattr(tts, marker, path)
                got.append(True)
            else:
                setattr(tts, marker, None)      # index-tts compares paths: None forces a fresh computation
                got.append(False)
        return got[0], got[1]

    def _harvest(self, spk: tuple[str, str], emo: tuple[str, str], have: tuple[bool, bool]) -> None:
        tts = self.tts
        for (path, clip_hash), kind, attrs, marker, had in (
                (spk, "speaker", _SPEAKER_ATTRS, "cache_spk_audio_prompt", have[0]),
                (emo, "emotion", _EMOTION_ATTRS, "cache_emo_audio_prompt", have[1])):
            if had or getattr(tts, marker, None) != path:
                continue
            tensors = {k: getattr(tts, attr, None) for k, attr in attrs.items()}
            if any(v is None for v in tensors.values()):
                continue
            self.stats["conditioning_computed"] += 1
            self._cond_keep((clip_hash, kind), tensors)
            buf = io.BytesIO()
            self.torch.save({k: v.detach().cpu() for k, v in tensors.items()}, buf)
            self.store.put(NAME, self._store_version(), clip_hash, kind, buf.getvalue())

    # ------------------------------------------------------------------ request -> infer arguments

    def text(self, request: Request) -> str:
        from ..text.speech import has_han

        if not has_han(request.text):
            return request.text
        from ..text import zh

        if self.version == "2.5":
            return zh.tone_number_text(request.text, mark=lambda ch, r: f"<{ch}|{r.upper()}>")
        return zh.tone_number_text(request.text)

    def emotion_vector(self, vector: list[float]) -> list[float]:
        """The web UI's normalisation: per-emotion biases, then the sum capped at 0.8."""
        normalize = getattr(self.tts, "normalize_emo_vec", None)
        if normalize is not None:
            return [float(v) for v in normalize(list(vector), apply_bias=bool(self.opts["emotion_bias"]))]
        total = sum(vector)
        scale = 0.8 / total if total > 0.8 else 1.0
        return [float(v) * scale for v in vector]

    def speaker(self, request: Request) -> tuple[str, str]:
        if not request.reference:
            raise EngineError(f"IndexTTS2 clones a voice from a clip and has no voice named {request.voice!r}: give the "
                              "character {ref: clip.wav}, {library: NAME} or another engine's voice (kokoro:jf_alpha), "
                              "which is spoken as a prompt")
        return _clip_file(request.reference, request.reference_hash, "voice")

    def arguments(self, request: Request) -> tuple[dict[str, Any], tuple[str, str], tuple[str, str]]:
        """``infer``'s keyword arguments for a request, and the speaker's and the emotion
        features' clips as (path, content hash)."""
        spk = self.speaker(request)
        kw: dict[str, Any] = {"spk_audio_prompt": spk[0], "text": self.text(request), "output_path": None,
                              "emo_audio_prompt": None, "emo_alpha": 1.0, "emo_vector": None,
                              "use_emo_text": False, "emo_text": None, "use_random": False,
                              "interval_silence": self.opts["interval_silence"], "verbose": False,
                              "max_text_tokens_per_segment": self.opts["max_text_tokens_per_segment"]}
        if "lang" in self.sig:
            kw["lang"] = "ZH" if request.language.startswith("zh") else "EN"
        emo_clip = spk            # index-tts reads emotion features from the speaker clip unless given a clip
        e = request.emotion
        if e is not None:
            if e.kind in ("preset", "vector") and e.vector is not None:
                kw["emo_vector"] = self.emotion_vector([float(v) for v in e.vector])
                kw["emo_alpha"] = e.alpha
            elif e.kind == "ref" and e.clip:
                emo_clip = _clip_file(e.clip, e.clip_hash, "emotion")
                kw["emo_audio_prompt"] = emo_clip[0]
                kw["emo_alpha"] = e.alpha
            elif e.kind == "text":
                if not self.emotion_text:
                    raise EngineError(f"emotion from a sentence needs IndexTTS2's Qwen emotion model "
                                      f"({self.layout.qwen}); it is not there or emotion_text is false")
                kw["use_emo_text"] = True
                kw["emo_text"] = e.text
                kw["emo_alpha"] = e.alpha
        kw.update(self.opts["generation"])
        return kw, spk, emo_clip

    def take_key(self, request: Request, spk: tuple[str, str], emo: tuple[str, str]) -> str:
        """What a take is made of, apart from its length (the clips by the content actually read,
        never a path or a hash given with it): keys the GPT memo and the seed."""
        e = request.emotion
        emotion = None if e is None else {"kind": e.kind, "vector": e.vector, "alpha": e.alpha, "text": e.text}
        doc = {"v": self.info.version, "m": self.info.model_id, "text": request.text, "lang": request.language,
               "voice": spk[1], "emotion_clip": emo[1], "emotion": emotion, "seed": request.seed}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()

    # ------------------------------------------------------------------ rendering

    def _seed(self, key: str, *stage: Any) -> None:
        """python's, numpy's and torch's generators seeded from a take's key (and the stage)."""
        seed = int(key[:8], 16) if not stage else int(hashlib.sha256(
            "|".join(map(str, (key, *stage))).encode()).hexdigest()[:8], 16)
        random.seed(seed)
        np.random.seed(seed)
        self.torch.manual_seed(seed)
        cuda = getattr(self.torch, "cuda", None)
        if cuda is not None and cuda.is_available():
            cuda.manual_seed_all(seed)

    def _render(self, kw: dict, spk, emo, key: str, factor: float | None = None) -> np.ndarray:
        tts = self.tts
        have = self._inject(spk, emo)
        self._seed(key)
        self._gpt_key, self._segment, self._in_segment = key, -1, False
        self._frames = []
        args = dict(kw)
        if factor is not None:
            if self.exact_mode == "duration_factor":
                args["duration_factor"] = factor
            else:
                self._scale = factor
        try:
            with self.torch.no_grad(), self._quiet():
                out = tts.infer(**args)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"IndexTTS2 failed on {kw.get('text')!r}: {type(exc).__name__}: {exc}"
                              f"{self._log_tail()}") from None
        finally:
            self._gpt_key, self._scale, self._in_segment = None, None, False
        self.stats["mel_renders"] += 1
        self._harvest(spk, emo, have)
        if out is None:
            return np.zeros(0, np.float32)
        sr, data = out
        x = np.asarray(data).astype(np.float32).reshape(-1) / 32767.0
        return x

    def _natural_take(self, kw: dict, spk, emo, key: str) -> np.ndarray:
        from .. import audio

        x = self._recent.get(key)
        if x is None:
            x = self._render(kw, spk, emo, key)
            self._recent[key] = x
            while len(self._recent) > 16:
                self._recent.popitem(last=False)
        self._natural[key] = audio.trim_silence(x, self.info.sample_rate).size
        return x

    def synthesize(self, request: Request) -> np.ndarray:
        """The line at its natural length, or (``target_samples``) with its speech exactly that
        long: the GPT stage once, the mel stage at the scaled length (see the module docstring)."""
        with self._lock:
            return self._synthesize(request)

    def synthesize_many(self, requests) -> list[np.ndarray]:
        """Several lines, in the order given. index-tts generates one sequence at a time and its
        instance is not thread-safe: the lines are rendered one after another under one lock,
        grouped by speaker clip, so each voice's conditioning is handed to the model once per
        group and never recomputed (the run already sends one voice's lines together)."""
        first: dict[str, int] = {}
        for i, r in enumerate(requests):
            first.setdefault(r.reference_hash or r.reference or "", i)
        order = sorted(range(len(requests)),
                       key=lambda i: (first[requests[i].reference_hash or requests[i].reference or ""], i))
        out: list[np.ndarray | None] = [None] * len(requests)
        with self._lock:
            for i in order:
                out[i] = self._synthesize(requests[i])
        self.stats["batches"] += 1
        return out  # type: ignore[return-value]

    def _synthesize(self, request: Request) -> np.ndarray:
        from .. import audio

        kw, spk, emo = self.arguments(request)
        key = self.take_key(request, spk, emo)
        sr = self.info.sample_rate
        if request.target_samples is None:
            return self._natural_take(kw, spk, emo, key)
        target = int(request.target_samples)
        if self.exact_mode == "stretcher":
            x = audio.trim_silence(self._natural_take(kw, spk, emo, key), sr)
            self.stats["stretched"] += 1
            return audio.stretch_to(x, sr, target) if x.size else x
        # the natural speech length: from this process, or the caller's hint (a cached take)
        natural = self._natural.get(key) or int(request.natural_samples or 0)
        if natural <= 0:
            x = self._natural_take(kw, spk, emo, key)
            natural = self._natural[key]
            if natural == 0:
                return x
        return solve_factor(lambda f: self._render(kw, spk, emo, key, f), natural, target, sr,
                            DURATION_FACTOR_RANGE, MEL_RENDERS, self.layout.hop)


def _numpy(t: Any) -> Any:
    for step in ("detach", "cpu", "numpy"):
        fn = getattr(t, step, None)
        if fn is None:
            break
        t = fn()
    return t


def _to(value: Any, device: Any) -> Any:
    """Tensors (or tuples/lists of them) moved to ``device``; anything else as it is."""
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    if device is not None and hasattr(value, "to"):
        return value.to(device)
    return value
