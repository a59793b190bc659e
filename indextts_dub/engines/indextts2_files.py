"""IndexTTS2's files: what each model version needs on disk, where it is looked for, and one
message listing everything missing.

Pure Python (PyYAML and the standard library): nothing here imports torch or index-tts, so
the check runs before anything loads, when the casting file is read.

Facts from the public index-tts code (read, not copied):

* IndexTTS-2 (``indextts.infer_v2``): ``config.yaml``, ``gpt.pth``, ``s2mel.pth``,
  ``wav2vec2bert_stats.pt``, ``feat1.pt`` (speaker matrix), ``feat2.pt`` (emotion matrix),
  ``bpe.model``, the Qwen emotion model folder ``qwen0.6bemo4-merge/`` (for emotion from a
  sentence); file names come from ``config.yaml`` when it is there.
* IndexTTS-2.5 (``indextts.infer_v2_5``): ``codec.pth`` and
  ``multilingual_zh_ja_yue_char_del.tiktoken`` instead of ``bpe.model``.
* Auxiliary models it otherwise fetches from a hub: ``w2v-bert-2.0/`` (facebook/w2v-bert-2.0),
  ``semantic_codec_model.safetensors`` (amphion/MaskGCT, IndexTTS-2 only),
  ``campplus_cn_common.bin`` (funasr/campplus), ``bigvgan/`` (nvidia/bigvgan_v2_22khz_80band_256x).
  index-tts keeps them in ``<checkpoints>/hf_cache/``; IndexTTS-2 takes them from any folder
  (``aux_paths``), flat or as a Hugging Face hub cache; IndexTTS-2.5 reads only
  ``<checkpoints>/hf_cache/`` and downloads whatever is missing there, so the check insists.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSIONS = ("2", "2.5")
LABELS = {"2": "IndexTTS-2", "2.5": "IndexTTS-2.5"}
REPOS = {"2": "IndexTeam/IndexTTS-2", "2.5": "IndexTeam/IndexTTS-2.5"}
MODULES = {"2": "infer_v2", "2.5": "infer_v2_5"}
ENV_CHECKPOINTS = "INDEXTTS2_CHECKPOINTS"
DEFAULT_SAMPLE_RATE = 22_050
DEFAULT_HOP = 256
QWEN_DEFAULT = "qwen0.6bemo4-merge"
TIKTOKEN = "multilingual_zh_ja_yue_char_del.tiktoken"

W2V_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")
BIGVGAN_FILES = ("config.json", "bigvgan_generator.pt")
AUX_REPOS = {
    "w2v_bert": "facebook/w2v-bert-2.0",
    "semantic_codec": "amphion/MaskGCT",
    "campplus": "funasr/campplus",
    "bigvgan": "nvidia/bigvgan_v2_22khz_80band_256x",
}


@dataclass(frozen=True)
class Need:
    """One thing the model needs, and where it was looked for."""

    what: str
    path: Path
    group: str                 # "packages", "checkpoints", "aux"
    kind: str = "file"         # "file", "dir" (must hold files), "package"
    hint: str = ""

    def present(self) -> bool:
        if self.kind == "package":
            return _package_present(str(self.path))
        if self.kind == "dir":
            return self.path.is_dir() and any(self.path.iterdir())
        return self.path.is_file()


@dataclass
class Layout:
    """Where one installation's files are, for one model version."""

    version: str
    checkpoints: Path
    checkpoints_from: str          # which option or default named the folder
    config: Path
    aux_dir: Path
    aux_from: str
    cfg: dict[str, Any]
    qwen: Path
    aux_paths: dict[str, str] = field(default_factory=dict)
    needs: list[Need] = field(default_factory=list)
    hub_only: bool = False         # this index-tts reads the auxiliary models only through a hub cache

    @property
    def label(self) -> str:
        return LABELS[self.version]

    @property
    def sample_rate(self) -> int:
        try:
            return int(self.cfg["s2mel"]["preprocess_params"]["sr"])
        except (KeyError, TypeError, ValueError):
            return DEFAULT_SAMPLE_RATE

    @property
    def hop(self) -> int:
        try:
            return int(self.cfg["s2mel"]["preprocess_params"]["spect_params"]["hop_length"])
        except (KeyError, TypeError, ValueError):
            return DEFAULT_HOP

    def missing(self) -> list[Need]:
        return [n for n in self.needs if not n.present()]

    def fingerprint(self) -> str:
        """A cheap checksum of the weights: the config's bytes and each weight file's name and
        size (a replaced checkpoint changes it; copying the folder elsewhere does not)."""
        h = hashlib.sha256(self.version.encode())
        try:
            h.update(self.config.read_bytes())
        except OSError:
            h.update(b"no-config")
        for n in self.needs:
            if n.kind == "file" and n.group != "packages":
                try:
                    h.update(f"{n.path.name}:{n.path.stat().st_size};".encode())
                except OSError:
                    h.update(f"{n.path.name}:-;".encode())
        return h.hexdigest()[:16]


def _package_present(name: str) -> bool:
    top, _, sub = name.partition(".")
    try:
        spec = importlib.util.find_spec(top)      # finds, never imports, a top-level package
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not sub:
        return True
    # a submodule: look for its file without importing the package
    return any((Path(loc) / f"{sub}.py").is_file() for loc in (spec.submodule_search_locations or ()))


def index_tts_has_aux_paths() -> bool:
    """Whether the installed index-tts's IndexTTS-2 takes ``aux_paths`` (upstream main since
    spring 2026); PyPI's ``indextts2-cli`` 1.0.2 does not and reads the auxiliary models through
    the Hugging Face hub cache only. Read from its source, without importing it."""
    try:
        spec = importlib.util.find_spec("indextts")
    except (ImportError, ValueError):
        return True
    for loc in (spec.submodule_search_locations or ()) if spec else ():
        src = Path(loc) / "infer_v2.py"
        if src.is_file():
            try:
                return "aux_paths" in src.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return True
    return True


def read_config(path: Path) -> dict[str, Any]:
    """``config.yaml`` as plain data (OmegaConf files are plain YAML); {} when unreadable."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def checkpoints_folder(option: str | None) -> tuple[Path, str]:
    """The checkpoint folder and what named it: the option, ``$INDEXTTS2_CHECKPOINTS``, or
    ``./checkpoints`` (index-tts's own default)."""
    if option:
        return Path(option).expanduser(), "engine option checkpoints"
    env = os.environ.get(ENV_CHECKPOINTS)
    if env:
        return Path(env).expanduser(), f"${ENV_CHECKPOINTS}"
    return Path("checkpoints").resolve(), "the default ./checkpoints"


def find_config(checkpoints: Path, option: str | None = None) -> Path:
    if option:
        p = Path(option).expanduser()
        return p if p.is_absolute() else checkpoints / p
    for name in ("config.yaml", "config_v2_5.yaml"):
        if (checkpoints / name).is_file():
            return checkpoints / name
    return checkpoints / "config.yaml"


def detect_version(checkpoints: Path, cfg: dict[str, Any]) -> str:
    """``2.5`` when the folder holds IndexTTS-2.5's codec and tokenizer (or its config says so), else ``2``."""
    v = str(cfg.get("version", "")).strip()
    if v.startswith("2.5"):
        return "2.5"
    if v.startswith("2"):
        if (checkpoints / "codec.pth").is_file() and not (checkpoints / "bpe.model").is_file():
            return "2.5"
        return "2"
    if (checkpoints / "codec.pth").is_file() or (checkpoints / TIKTOKEN).is_file():
        return "2.5"
    return "2"


def hub_snapshot(cache: Path, repo_id: str) -> Path | None:
    """A repository's snapshot folder in a Hugging Face hub cache (``models--owner--name``)."""
    root = cache / f"models--{repo_id.replace('/', '--')}"
    snaps = root / "snapshots"
    if not snaps.is_dir():
        return None
    ref = root / "refs" / "main"
    if ref.is_file():
        cand = snaps / ref.read_text(encoding="utf-8").strip()
        if cand.is_dir():
            return cand
    found = [p for p in snaps.iterdir() if p.is_dir()]
    return found[0] if len(found) == 1 else None


def _cfg_name(cfg: dict[str, Any], key: str, default: str) -> str:
    value = cfg.get(key)
    return str(value).strip().rstrip("/") if isinstance(value, str) and value.strip() else default


def layout(checkpoints: str | None = None, aux_dir: str | None = None, model: str = "auto",
           config: str | None = None, emotion_text: Any = "auto") -> Layout:
    """Every file the chosen version needs, where it is looked for (nothing is loaded)."""
    ck, ck_from = checkpoints_folder(checkpoints)
    cfg_path = find_config(ck, config)
    cfg = read_config(cfg_path)
    version = detect_version(ck, cfg) if model in (None, "auto") else str(model)
    if aux_dir:
        aux, aux_from = Path(aux_dir).expanduser(), "engine option aux_dir"
    else:
        aux, aux_from = ck / "hf_cache", "hf_cache in the checkpoint folder"
    qwen = ck / _cfg_name(cfg, "qwen_emo_path", QWEN_DEFAULT)
    lay = Layout(version, ck, ck_from, cfg_path, aux, aux_from, cfg, qwen)
    lay.hub_only = version == "2" and not index_tts_has_aux_paths()
    needs = lay.needs
    # python packages
    needs.append(Need("torch", Path("torch"), "packages", "package", "pip install 'indextts-dub[indextts2]'"))
    needs.append(Need("torchaudio", Path("torchaudio"), "packages", "package", "pip install 'indextts-dub[indextts2]'"))
    needs.append(Need(f"index-tts ({LABELS[version]}: indextts.{MODULES[version]})",
                      Path(f"indextts.{MODULES[version]}"), "packages", "package",
                      "install index-tts from its repository (see the README, 'IndexTTS2 engine')"))
    # checkpoints
    def ckfile(what: str, name: str) -> None:
        needs.append(Need(what, ck / name, "checkpoints"))

    ckfile("model configuration", cfg_path.name if cfg_path.parent == ck else str(cfg_path))
    ckfile("GPT weights", _cfg_name(cfg, "gpt_checkpoint", "gpt.pth"))
    ckfile("mel-stage weights", _cfg_name(cfg, "s2mel_checkpoint", "s2mel.pth"))
    ckfile("w2v-bert statistics", _cfg_name(cfg, "w2v_stat", "wav2vec2bert_stats.pt"))
    ckfile("speaker matrix", _cfg_name(cfg, "spk_matrix", "feat1.pt"))
    ckfile("emotion matrix", _cfg_name(cfg, "emo_matrix", "feat2.pt"))
    if version == "2":
        dataset = cfg.get("dataset") if isinstance(cfg.get("dataset"), dict) else {}
        ckfile("BPE text model", _cfg_name(dataset, "bpe_model", "bpe.model"))
    else:
        ckfile("semantic codec", "codec.pth")
        ckfile("multilingual tokenizer", TIKTOKEN)
    if emotion_text is True:
        needs.append(Need("Qwen emotion model (emotion from a sentence)", qwen, "checkpoints", "dir"))
    # auxiliary models
    if version == "2.5" and aux != ck / "hf_cache":
        # infer_v2_5 has no aux_paths: it reads <checkpoints>/hf_cache and downloads what is missing
        aux, aux_from = ck / "hf_cache", "IndexTTS-2.5 (reads only <checkpoints>/hf_cache)"
        lay.aux_dir, lay.aux_from = aux, aux_from
    flat = {
        "w2v_bert": aux / "w2v-bert-2.0",
        "semantic_codec": aux / "semantic_codec_model.safetensors",
        "campplus": aux / "campplus_cn_common.bin",
        "bigvgan": aux / "bigvgan",
    }
    hub_files = {"semantic_codec": "semantic_codec/model.safetensors", "campplus": "campplus_cn_common.bin"}
    keys = ("w2v_bert", "campplus", "bigvgan") if version == "2.5" else ("w2v_bert", "semantic_codec", "campplus", "bigvgan")
    for key in keys:
        where = flat[key]
        flat_ok = (where.is_dir() and all((where / f).is_file() for f in
                                          (W2V_FILES if key == "w2v_bert" else BIGVGAN_FILES))
                   ) if key in ("w2v_bert", "bigvgan") else where.is_file()
        if lay.hub_only:
            flat_ok = False
            snap = hub_snapshot(aux, AUX_REPOS[key]) or (
                aux / f"models--{AUX_REPOS[key].replace('/', '--')}" / "snapshots" / "*")
            where = snap / hub_files[key] if key in hub_files else snap
        elif not flat_ok and version == "2":
            snap = hub_snapshot(aux, AUX_REPOS[key])
            if snap is not None:
                where = snap / hub_files[key] if key in hub_files else snap
        lay.aux_paths[key] = str(where)
        repo = AUX_REPOS[key]
        if key in ("w2v_bert", "bigvgan"):
            for f in (W2V_FILES if key == "w2v_bert" else BIGVGAN_FILES):
                needs.append(Need(f"{repo} {f}", where / f, "aux"))
        else:
            needs.append(Need(repo, where, "aux"))
    return lay


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def missing_message(lay: Layout, missing: list[Need]) -> str:
    """One message listing everything missing and where it was looked for."""
    files = [n for n in missing if n.group != "packages"]
    pkgs = [n for n in missing if n.group == "packages"]
    head = f"IndexTTS2 ({lay.label}) cannot load"
    parts = []
    if files:
        parts.append(f"{len(files)} required file{'s' if len(files) != 1 else ''} missing")
    if pkgs:
        parts.append(f"{len(pkgs)} python package{'s' if len(pkgs) != 1 else ''} missing")
    out = [f"{head}: {' and '.join(parts)}; nothing was loaded or downloaded."]
    if pkgs:
        out.append("  python packages:")
        for n in pkgs:
            out.append(f"    {n.what}: {n.hint}")
    ck = [n for n in files if n.group == "checkpoints"]
    if ck:
        out.append(f"  checkpoint folder {lay.checkpoints} (from {lay.checkpoints_from}):")
        for n in ck:
            out.append(f"    {_rel(n.path, lay.checkpoints)}{'/' if n.kind == 'dir' else ''}  ({n.what})")
    aux = [n for n in files if n.group == "aux"]
    if aux:
        out.append(f"  auxiliary models folder {lay.aux_dir} (from {lay.aux_from})"
                   + (", read by this index-tts build only as a Hugging Face hub cache (models--owner--name/"
                      "snapshots/...; fill it with HF_HUB_CACHE=<folder> hf download <repo>)" if lay.hub_only else "")
                   + ":")
        for n in aux:
            out.append(f"    {_rel(n.path, lay.aux_dir)}  ({n.what})")
    if files:
        out.append(f"  Get them with: hf download {REPOS[lay.version]} --local-dir {lay.checkpoints}; the auxiliary "
                   f"models go to {lay.checkpoints / 'hf_cache'} (index-tts's own layout), or pass "
                   "allow_download: true in engine_options to let index-tts fetch them once.")
    return "\n".join(out)
