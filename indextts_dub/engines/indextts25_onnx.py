"""IndexTTS-2.5 without torch: the ``index-tts-2.5-onnx`` port (numpy and onnxruntime) as an
engine, with weights from a folder the user names, never downloaded.

Install it with ``pip install 'indextts-dub[indextts25-onnx]'``; the weights (nine ONNX graphs
and a few frontend files, about 7 GB) are the port's own model folder, fetched once by the user
(``hf download yunfengwang/IndexTTS-2.5-onnx --local-dir DIR``) and named with the option
``model_dir``. onnxruntime, the port and transformers are imported when the engine loads, never
when the package is imported, described or a casting file is read. The port's own loader that
downloads (``IndexTTS``, ``ensure_model``) is never called: the engine builds the port's
pipeline straight from ``model_dir`` (``engine.load_pipeline``), with the Hugging Face libraries
set offline.

How a line becomes audio (everything through the port's ``IndexTTS2Core``):

* **Voice**: the character's reference clip (``ref:``, a library voice, or another engine's
  voice spoken as a prompt) becomes the port's ``SpeakerContext`` (w2v-BERT features, emotion
  vector, CAMPPlus style, GPT conditioning, prompt condition and mel) once per clip *content*:
  kept in memory and on disk by clip hash and model (:mod:`.condstore`, the voice library's
  ``conditioning`` table or a cache file) and handed to ``synthesize(spk=...)``.
* **Emotion**: none. The port has no emotion control (the speaker clip is its own emotion
  reference): ``EngineInfo.emotion`` is false and the run warns when lines ask for one.
* **Text**: Mandarin polyphones and user readings as pronunciation marks (``<重|CHONG2>``), as
  IndexTTS-2.5 takes them; the port's own text normalisation (wetext) is off by default, since
  the text stage has already written numbers out (option ``normalization``).
* **Seeds**: the port's sampling (or ``greedy``) is seeded from what the take is made of (text,
  language, clip content, model, the request's seed), so the same inputs give the same take.

Exact length (``Request.target_samples``): IndexTTS-2.5's ``duration_factor`` scales the
number of mel frames the flow-matching stage renders from the GPT codes (``codes * 1.72 *
factor``, 256 samples a frame at 22.05 kHz). The natural take is rendered first; the line is
then rendered again with ``target / natural``, its GPT codes replayed from the natural render
(the GPT stage runs once per line content; the replay goes through the port's GPT backend
protocol, so the codes are the same ones whatever the device), and once more with a corrected
factor when the speech misses by more than one mel frame. The factor is kept within
:data:`DURATION_FACTOR_RANGE`; what is left (under one frame, or beyond the range) the fit stage
pads or stretches, as for any exact-length engine.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import sys
import threading
from collections import OrderedDict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import refclip
from .exact import solve_factor
from .base import Engine, EngineConfigError, EngineError, EngineInfo, Request
from .condstore import ConditioningStore

NAME = "indextts25-onnx"
DIST = "index-tts-2.5-onnx"
MODULE = "index_tts_2_5_onnx"
INSTALL = "pip install 'indextts-dub[indextts25-onnx]'"
REPO = "yunfengwang/IndexTTS-2.5-onnx"
ENV_DIR = "INDEXTTS25_ONNX_MODEL_DIR"
SAMPLE_RATE = 22_050
HOP = 256                            # samples per mel frame
DURATION_FACTOR_RANGE = (0.5, 2.0)   # what the engine asks of duration_factor; beyond it the fit stage stretches
RENDERS = 3                          # renders per exact-length take at most (the natural one not counted)
DEVICES = ("auto", "cpu", "cuda")
GENERATION_KEYS = ("top_k", "top_p", "temperature", "repetition_penalty", "max_mel_tokens", "n_timesteps",
                   "cfg_rate")
WHOLE = ("top_k", "max_mel_tokens", "n_timesteps")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

# the port's model folder: what its loader opens (engine.py, core/pipeline.py, core/features.py)
FILES = (
    ("campplus.onnx", "CAMPPlus speaker style"),
    ("bigvgan.onnx", "BigVGAN vocoder"),
    ("length_regulator.onnx", "length regulator"),
    ("semantic_codec_decode.onnx", "semantic codec decoder"),
    ("emo_vec.onnx", "emotion vector"),
    ("semantic_model/semantic_model.onnx", "w2v-BERT semantic model"),
    ("semantic_model/semantic_model.onnx.data", "w2v-BERT semantic model weights"),
    ("gpt_prefill/gpt_prefill.onnx", "GPT prefill"),
    ("gpt_prefill/gpt_prefill.onnx.data", "GPT prefill weights"),
    ("gpt_step/gpt_step.onnx", "GPT decode step"),
    ("gpt_step/gpt_step.onnx.data", "GPT decode step weights"),
    ("cfm_estimator/cfm_estimator.onnx", "flow-matching mel estimator"),
    ("multilingual_zh_ja_yue_char_del.tiktoken", "text tokenizer"),
    ("spk_proj.npz", "speaker projection"),
    ("hf_cache/w2v-bert-2.0/preprocessor_config.json", "w2v-BERT feature extractor settings"),
)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def model_folder(model_dir: str | None) -> tuple[Path | None, str]:
    """The model folder and where it came from (the option, or the environment variable)."""
    if model_dir:
        return Path(model_dir).expanduser(), "model_dir"
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser(), f"${ENV_DIR}"
    return None, ""


def fingerprint(folder: Path | None) -> str:
    """A cheap checksum of the weights: each file's name and size (a replaced graph changes it,
    copying the folder elsewhere does not), and the small frontend files' bytes."""
    h = hashlib.sha256(NAME.encode())
    for rel, _ in FILES:
        p = folder / rel if folder is not None else None
        try:
            size = p.stat().st_size if p is not None else -1
            h.update(f"{rel}:{size};".encode())
            if p is not None and (rel.endswith((".tiktoken", ".json", ".npz"))) and size < 8 << 20:
                h.update(p.read_bytes())
        except OSError:
            h.update(f"{rel}:-;".encode())
    return h.hexdigest()[:16]


def package_version() -> str | None:
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return None


class IndexTTS25OnnxEngine(Engine):
    """IndexTTS-2.5 through ``index-tts-2.5-onnx`` (see the module docstring)."""

    name = NAME
    path_options = ("model_dir", "conditioning_cache", "voice_library")
    run_options = ("voice_library",)

    # ------------------------------------------------------------------ cheap: nothing imported

    @classmethod
    def describe(cls, **options: Any) -> EngineInfo:
        folder, _ = model_folder(options.get("model_dir") if isinstance(options.get("model_dir"), str) else None)
        return EngineInfo(
            name=NAME,
            version=f"{DIST}-{package_version() or 'missing'}",
            sample_rate=SAMPLE_RATE,
            languages=("zh", "en"),
            voices=(),
            native_speed=False,
            speed_range=DURATION_FACTOR_RANGE,
            exact_length=True,
            emotion=False,
            reference_voice=True,
            voice_blends=False,
            model_id=f"{fingerprint(folder)}-fp32",
        )

    @classmethod
    def check(cls, **options: Any) -> None:
        """Every problem with the options and the model folder at once; loads nothing."""
        problems: list[tuple[str | None, str]] = []
        try:
            super().check(**options)          # unknown options, wrong types
        except EngineConfigError as exc:
            problems += exc.problems
        bad = {k for k, _ in problems}
        device = options.get("device", "auto")
        if "device" not in bad and str(device).lower() not in DEVICES:
            problems.append(("device", f"device: {device!r} is not one of {', '.join(DEVICES)}"))
        threads = options.get("threads")
        if "threads" not in bad and threads is not None and threads < 1:
            problems.append(("threads", f"threads: {threads} is not a number of threads (1 or more)"))
        for key, lo in (("max_text_tokens_per_segment", 20), ("interval_silence", 0)):
            v = options.get(key)
            if key not in bad and v is not None and v < lo:
                problems.append((key, f"{key}: must be a whole number of at least {lo}, not {v!r}"))
        gen = options.get("generation")
        if "generation" not in bad and gen is not None:
            if not isinstance(gen, dict):
                problems.append(("generation", "generation: must map settings to values, e.g. {temperature: 0.8}"))
            else:
                for k, v in gen.items():
                    if k not in GENERATION_KEYS:
                        problems.append(("generation", f"generation.{k}: unknown; known: {', '.join(GENERATION_KEYS)}"))
                    elif not _num(v) or (k in WHOLE and not _int(v)) or v < 0:
                        kind = "whole number" if k in WHOLE else "number"
                        problems.append(("generation", f"generation.{k}: {v!r} is not a {kind} of 0 or more"))
        if "model_dir" not in bad:
            missing = cls.missing(options.get("model_dir"))
            if missing:
                problems.append(("model_dir", missing))
        if problems:
            raise EngineConfigError(NAME, problems)

    @classmethod
    def missing(cls, model_dir: str | None) -> str | None:
        """One message naming the package or every model file that is missing, and how to get them."""
        lines = []
        if importlib.util.find_spec(MODULE) is None:
            lines.append(f"  python package {DIST} is not installed: {INSTALL}")
        folder, source = model_folder(model_dir)
        get = (f"  Get them with: hf download {REPO} --local-dir DIR (about 7 GB, once); this engine never "
               "downloads anything.")
        if folder is None:
            lines.append(f"  no model folder: name the folder holding the IndexTTS-2.5 ONNX files with "
                         f"engine_options.model_dir (or --engine-option model_dir=DIR, or ${ENV_DIR})")
            lines.append(get)
        elif not folder.is_dir():
            lines.append(f"  model folder {folder} (from {source}) does not exist")
            lines.append(get.replace("DIR", str(folder)))
        else:
            absent = [(rel, what) for rel, what in FILES if not (folder / rel).is_file()]
            if absent:
                lines.append(f"  model folder {folder} (from {source}): {len(absent)} required "
                             f"file{'s' if len(absent) != 1 else ''} missing:")
                lines += [f"    {rel}  ({what})" for rel, what in absent]
                lines.append(get.replace("DIR", str(folder)))
        if not lines:
            return None
        return "\n".join(["IndexTTS-2.5 ONNX cannot load; nothing was loaded or downloaded:", *lines])

    # ------------------------------------------------------------------ loading

    def __init__(self, model_dir: str | None = None, device: str = "auto", threads: int | None = None,
                 greedy: bool = False, normalization: bool = False, generation: dict | None = None,
                 max_text_tokens_per_segment: int = 120, interval_silence: int = 200,
                 conditioning_cache: str | None = None, voice_library: str | None = None):
        options = {k: v for k, v in dict(model_dir=model_dir, device=device, threads=threads, greedy=greedy,
                                        normalization=normalization, generation=generation,
                                        max_text_tokens_per_segment=max_text_tokens_per_segment,
                                        interval_silence=interval_silence, conditioning_cache=conditioning_cache,
                                        voice_library=voice_library).items() if v is not None}
        self.check(**options)
        self.folder, _ = model_folder(model_dir)
        self.info = self.describe(**options)
        self.device = str(device).lower()
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.greedy = bool(greedy)
        self.normalization = bool(normalization)
        self.generation = dict(generation or {})
        self.segment_tokens = max_text_tokens_per_segment
        self.interval_silence = interval_silence
        self.store = ConditioningStore(voice_library, conditioning_cache)
        self.stats = {"gpt_runs": 0, "gpt_replayed": 0, "renders": 0, "conditioning_computed": 0,
                      "conditioning_from_disk": 0, "conditioning_from_memory": 0, "batches": 0}
        self._speakers: OrderedDict[str, Any] = OrderedDict()   # clip hash -> SpeakerContext
        self._natural: dict[str, int] = {}                     # take key -> natural speech samples
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        os.environ.update(OFFLINE_ENV)       # nothing may download (the port's loader is never called)
        saved = {k: os.environ.get(k) for k in ("TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS")}
        os.environ.update({"TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"})
        try:
            hub = sys.modules.get("huggingface_hub.constants")
            if hub is not None and hasattr(hub, "HF_HUB_OFFLINE"):
                hub.HF_HUB_OFFLINE = True     # imported before us: its flag was read then
            try:
                import onnxruntime as ort
                from index_tts_2_5_onnx import engine as port
                from index_tts_2_5_onnx.core import SpeakerContext, gpt_sampler
            except Exception as exc:
                raise EngineError(f"IndexTTS-2.5 ONNX cannot be imported ({type(exc).__name__}: {exc}); "
                                  f"{INSTALL}") from None
            try:
                pipe = port.load_pipeline(str(self.folder), threads=self.threads, device=self.device,
                                          use_normalization=self.normalization)
            except Exception as exc:
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise EngineError(f"IndexTTS-2.5 ONNX failed to load from {self.folder}: "
                                  f"{type(exc).__name__}: {message}") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.pipe = pipe
        self.SpeakerContext = SpeakerContext
        self.replay = _CodeReplay(pipe.engines.gpt, gpt_sampler.STOP_MEL_TOKEN)
        pipe.engines.gpt = self.replay
        providers = port._resolve_providers(self.device)
        where = "CUDA" if providers[0].startswith("CUDA") else "CPU"
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        self.notes = [f"IndexTTS-2.5 ONNX engine: {DIST} {package_version()} from {self.folder}, fp32 on "
                      f"{where} (onnxruntime {ort.__version__}, {threads}); no emotion control; exact "
                      "length: duration_factor (GPT codes once per line, replayed), the rest by the fit stage"]

    # ------------------------------------------------------------------ voices

    def _clip(self, request: Request) -> tuple[str, str]:
        if not request.reference:
            raise EngineError(f"IndexTTS-2.5 ONNX clones a voice from a clip and has no voice named "
                              f"{request.voice!r}: give the character {{ref: clip.wav}}, {{library: NAME}} or another "
                              "engine's voice (kokoro:af_heart), which is spoken as a prompt")
        try:
            return refclip.hashed_file(request.reference, request.reference_hash, "voice")
        except refclip.ClipError as exc:
            raise EngineError(str(exc)) from None

    def _store_version(self) -> str:
        return f"{self.info.version}/{self.info.model_id}"

    def speaker(self, path: str, clip_hash: str):
        """The port's SpeakerContext for a clip: from memory, the store, or computed (and stored)."""
        ctx = self._speakers.get(clip_hash)
        if ctx is not None:
            self._speakers.move_to_end(clip_hash)
            self.stats["conditioning_from_memory"] += 1
            return ctx
        blob = self.store.get(NAME, self._store_version(), clip_hash, "speaker")
        if blob is not None:
            try:
                with np.load(io.BytesIO(blob)) as z:
                    ctx = self.SpeakerContext(**{k: z[k] for k in z.files})
                self.stats["conditioning_from_disk"] += 1
            except Exception:         # an unreadable or other-format entry: computed again
                ctx = None
        if ctx is None:
            try:
                ctx = self.pipe.build_speaker(path)
            except Exception as exc:
                raise EngineError(f"IndexTTS-2.5 ONNX could not read the voice clip {path}: "
                                  f"{type(exc).__name__}: {exc}") from None
            self.stats["conditioning_computed"] += 1
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in vars(ctx).items()})
            self.store.put(NAME, self._store_version(), clip_hash, "speaker", buf.getvalue())
        self._speakers[clip_hash] = ctx
        while len(self._speakers) > 16:          # a few MB each for the real model
            self._speakers.popitem(last=False)
        return ctx

    # ------------------------------------------------------------------ text, keys

    def text(self, request: Request) -> str:
        from ..text.speech import has_han

        if not has_han(request.text):
            return request.text
        from ..text import zh

        return zh.tone_number_text(request.text, mark=lambda ch, r: f"<{ch}|{r.upper()}>")

    def take_key(self, request: Request, clip_hash: str) -> str:
        doc = {"v": self.info.version, "m": self.info.model_id, "text": request.text, "lang": request.language,
               "voice": clip_hash, "seed": request.seed, "greedy": self.greedy, "gen": self.generation}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    # ------------------------------------------------------------------ rendering

    def _render(self, request: Request, path: str, clip_hash: str, key: str, factor: float = 1.0) -> np.ndarray:
        ctx = self.speaker(path, clip_hash)
        lang = "zh" if request.language.startswith("zh") else "en"
        self.replay.start(key)
        try:
            pcm = self.pipe.synthesize(self.text(request), lang=lang, spk=ctx, greedy=self.greedy,
                                       seed=int(key[:8], 16) & 0x7FFFFFFF, duration_factor=float(factor),
                                       max_text_tokens_per_segment=self.segment_tokens,
                                       interval_silence=self.interval_silence, **self.generation)
        except Exception as exc:
            self.replay.abort()
            raise EngineError(f"IndexTTS-2.5 ONNX failed on {request.text!r}: {type(exc).__name__}: {exc}") from None
        self.replay.finish()
        self.stats["renders"] += 1
        self.stats["gpt_runs"], self.stats["gpt_replayed"] = self.replay.runs, self.replay.replayed
        return np.asarray(pcm).astype(np.float32).reshape(-1) / 32767.0

    def _natural_take(self, request: Request, path: str, clip_hash: str, key: str) -> np.ndarray:
        from .. import audio

        x = self._recent.get(key)
        if x is None:
            x = self._render(request, path, clip_hash, key)
            self._recent[key] = x
            while len(self._recent) > 16:
                self._recent.popitem(last=False)
        self._natural[key] = audio.trim_silence(x, SAMPLE_RATE).size
        return x

    def synthesize(self, request: Request) -> np.ndarray:
        """The line at its natural length, or (``target_samples``) with its speech that long
        (see the module docstring)."""
        with self._lock:
            return self._synthesize(request)

    def synthesize_many(self, requests) -> list[np.ndarray]:
        """Several lines in the order given, one after another under one lock (onnxruntime
        sessions run one sequence at a time here): a voice's conditioning is read once."""
        with self._lock:
            out = [self._synthesize(r) for r in requests]
        self.stats["batches"] += 1
        return out

    def _synthesize(self, request: Request) -> np.ndarray:
        path, clip_hash = self._clip(request)
        key = self.take_key(request, clip_hash)
        if request.target_samples is None:
            return self._natural_take(request, path, clip_hash, key)
        target = int(request.target_samples)
        natural = self._natural.get(key) or int(request.natural_samples or 0)
        if natural <= 0:
            # the natural render gives the length to scale from (and the codes to replay)
            x = self._natural_take(request, path, clip_hash, key)
            natural = self._natural[key]
            if natural == 0:
                return x
        return solve_factor(lambda f: self._render(request, path, clip_hash, key, f), natural, target,
                            SAMPLE_RATE, DURATION_FACTOR_RANGE, RENDERS, HOP)


class _CodeReplay:
    """The port's GPT backend (``prefill`` / ``step``, its ``GptBackend`` protocol) wrapped so a
    take's GPT codes are generated once: a first render records the codes each segment's
    decode loop feeds back; a later render of the same take (another ``duration_factor``)
    replays them, each step's logits putting all weight on the recorded code, then on the stop
    token, without running the GPT graphs."""

    def __init__(self, gpt: Any, stop_token: int):
        self.gpt, self.stop = gpt, stop_token
        self._memo: OrderedDict[tuple[str, int], tuple[list[int], int]] = OrderedDict()
        self._pending: list[tuple[tuple[str, int], list[int], int]] = []
        self._key: str | None = None
        self._segment = -1
        self._replaying: tuple[list[int], int] | None = None
        self._recording: list[int] | None = None
        self.runs = self.replayed = 0

    def start(self, key: str) -> None:
        self._key, self._segment, self._pending = key, -1, []

    def finish(self) -> None:
        for k, codes, width in self._pending:
            self._memo[k] = (codes, width)
            self._memo.move_to_end(k)
        while len(self._memo) > 4096:
            self._memo.popitem(last=False)
        self._pending, self._key, self._replaying, self._recording = [], None, None, None

    def abort(self) -> None:
        self._pending, self._key, self._replaying, self._recording = [], None, None, None

    def _forced(self, index: int) -> np.ndarray:
        codes, width = self._replaying  # type: ignore[misc]
        logits = np.full(width, -1e4, np.float32)
        logits[codes[index] if index < len(codes) else self.stop] = 1e4
        return logits

    def prefill(self, text_ids, conds, lang_id):
        self._segment += 1
        k = (self._key, self._segment) if self._key is not None else None
        if k is not None and k in self._memo:
            self._replaying, self._recording = self._memo[k], None
            self.replayed += 1
            return self._forced(0), None
        self._replaying = None
        logits, state = self.gpt.prefill(text_ids, conds, lang_id)
        self.runs += 1
        self._recording = []
        if k is not None:
            self._pending.append((k, self._recording, int(np.asarray(logits).shape[-1])))
        return logits, state

    def step(self, state, token, pos_idx):
        if self._replaying is not None:
            return self._forced(int(pos_idx) - 1)       # step i (pos_idx i + 2) feeds code i; next is i + 1
        if self._recording is not None:
            self._recording.append(int(token))
        return self.gpt.step(state, token, pos_idx)
