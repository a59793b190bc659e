"""Builds the stand-in index-tts (and numpy-backed torch) of tests/support/standin/ into a temporary
folder on sys.path, and checkpoint folders with every file IndexTTS2 needs (placeholders).

These prove our side of the contract only: see tests/support/standin/README.md."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

STANDIN = Path(__file__).resolve().parent / "standin"
PREFIXES = ("torch", "torchaudio", "indextts", "huggingface_hub")


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in PREFIXES)


class StandIn:
    """The built stand-in: ``site`` (the folder on sys.path) and its recorded calls."""

    def __init__(self, site: Path, saved: dict):
        self.site = site
        self._saved = saved

    @property
    def sim(self):
        import indextts._sim as sim

        return sim

    def calls(self, kind: str) -> list[dict]:
        return self.sim.calls(kind)

    def reset(self) -> None:
        self.sim.CALLS.clear()

    def restore(self) -> None:
        """Forget the stand-in's modules and put back what was imported before."""
        for k in [k for k in sys.modules if _ours(k)]:
            del sys.modules[k]
        sys.modules.update(self._saved)


def build(root: Path) -> Path:
    site = root / "standin-site"
    shutil.copytree(STANDIN, site, ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    return site


def install(tmp_path: Path, monkeypatch) -> StandIn:
    """Put the stand-in first on sys.path (modules of the same names are set aside and put back)."""
    from indextts_dub import engines
    from indextts_dub.engines import indextts2

    site = build(tmp_path)
    saved = {k: v for k, v in sys.modules.items() if _ours(k)}
    for k in saved:
        del sys.modules[k]
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(engines.registry, "_loaded", {})
    for k in indextts2.OFFLINE_ENV:              # the engine sets these; put them back afterwards
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "user-hf-cache"))
    monkeypatch.setenv("PYTHONPATH", str(site))  # for child processes
    return StandIn(site, saved)


CONFIG = """gpt:
    stop_mel_token: 8193
dataset:
    bpe_model: bpe.model
s2mel:
    preprocess_params:
        sr: 22050
        spect_params:
            hop_length: 256
gpt_checkpoint: gpt.pth
w2v_stat: wav2vec2bert_stats.pt
s2mel_checkpoint: s2mel.pth
emo_matrix: feat2.pt
spk_matrix: feat1.pt
qwen_emo_path: qwen0.6bemo4-merge/
version: {version}
"""


HUB_FILES = {"facebook/w2v-bert-2.0": ("config.json", "preprocessor_config.json", "model.safetensors"),
             "amphion/MaskGCT": ("semantic_codec/model.safetensors",),
             "funasr/campplus": ("campplus_cn_common.bin",),
             "nvidia/bigvgan_v2_22khz_80band_256x": ("config.json", "bigvgan_generator.pt")}


def hub_cache(folder: Path) -> Path:
    """The auxiliary models as a Hugging Face hub cache (``models--owner--name/snapshots/...``)."""
    for repo, names in HUB_FILES.items():
        root = folder / f"models--{repo.replace('/', '--')}"
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text("0123abcd")
        for n in names:
            f = root / "snapshots" / "0123abcd" / n
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"placeholder")
    return folder


def checkpoints(folder: Path, version: str = "2", qwen: bool = True, aux: bool | str = True) -> Path:
    """A checkpoint folder holding a placeholder for every file ``version`` needs (``aux="hub"``:
    the auxiliary models as a hub cache in ``hf_cache/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(CONFIG.format(version="2.0" if version == "2" else "2.5"))
    names = ["gpt.pth", "s2mel.pth", "wav2vec2bert_stats.pt", "feat1.pt", "feat2.pt"]
    names += ["bpe.model"] if version == "2" else ["codec.pth", "multilingual_zh_ja_yue_char_del.tiktoken"]
    for n in names:
        (folder / n).write_bytes(b"placeholder " + n.encode())
    if qwen:
        (folder / "qwen0.6bemo4-merge").mkdir(exist_ok=True)
        (folder / "qwen0.6bemo4-merge" / "config.json").write_text("{}")
    if aux == "hub":
        hub_cache(folder / "hf_cache")
    elif aux:
        hf = folder / "hf_cache"
        for rel in ("w2v-bert-2.0/config.json", "w2v-bert-2.0/preprocessor_config.json",
                    "w2v-bert-2.0/model.safetensors", "campplus_cn_common.bin", "bigvgan/config.json",
                    "bigvgan/bigvgan_generator.pt") + (("semantic_codec_model.safetensors",) if version == "2" else ()):
            (hf / rel).parent.mkdir(parents=True, exist_ok=True)
            (hf / rel).write_bytes(b"placeholder")
    return folder
