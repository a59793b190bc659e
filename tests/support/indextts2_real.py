"""The real index-tts for the "real index-tts on CPU" test tier: a separate venv holding PyPI's
``indextts2-cli`` (the upstream index-tts source) over the CPU build of torch, and tiny seeded
checkpoints for it, both built by the tests themselves and kept under the repository's ignored
``.venv-indextts2/`` (so a machine builds them once; a changed recipe rebuilds them).

index-tts is installed with ``--no-deps`` (its pins would pull CUDA builds of torch), its runtime
dependencies by hand; torchaudio's Linux wheels are CUDA builds whose compiled parts do not load
here, so they are removed and torchaudio falls back to the pure-Python code index-tts uses
(``transforms.Resample``, ``compliance.kaldi.fbank``). The project's own package and its
dependencies come from the test run's venv (a ``.pth`` file appends its site folder, after the
real venv's own packages); the tests run the pipeline in a subprocess of that venv.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

from .paths import REPO

VENV = REPO / ".venv-indextts2"
BUILDER = REPO / "tests" / "engines" / "indextts2_real" / "build_checkpoints.py"
TORCH = "torch==2.13.0"                              # the CPU wheel (a local one where pip has it)
NO_DEPS = ["indextts2-cli==1.0.2", "torchaudio==2.11.1"]
DEPS = ["transformers==4.52.1", "tokenizers==0.21.0", "librosa==0.10.2.post1", "omegaconf", "sentencepiece", "einops",
        "munch", "json5", "cn2an", "jieba", "huggingface_hub<1", "matplotlib", "modelscope==1.27.0", "accelerate",
        "descript-audiotools==0.7.2", "WeTextProcessing", "safetensors"]
# descript-audiotools pins protobuf < 3.20, which the project's onnx (voice embeddings, imported from
# the test run's venv) cannot import; nothing index-tts runs needs the old one
LATE = ["protobuf>=5.26,<8"]
RECIPE = {"python": sys.version_info[:2], "torch": TORCH, "no_deps": NO_DEPS, "deps": DEPS, "late": LATE, "format": 1}


class Unavailable(RuntimeError):
    """The real venv cannot be built on this machine (say why)."""


def python() -> Path:
    return VENV / "bin" / "python"


def _pip(*args: str, log) -> None:
    r = subprocess.run([str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                       stdout=log, stderr=subprocess.STDOUT, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed (see {VENV / 'build.log'})")


def _link_project() -> None:
    """The test run's packages (the project, pytest, ...) after the real venv's own."""
    site = Path(sysconfig.get_paths(vars={"base": VENV, "platbase": VENV})["purelib"])
    ours = sysconfig.get_paths()["purelib"]
    (site / "zz_indextts_dub_tests.pth").write_text(f"import site; site.addsitedir({ours!r})\n")


def ensure_venv() -> Path:
    """The real venv's Python, built if it is missing or its recipe changed; raises
    :class:`Unavailable` when this machine has no torch CPU wheel for it (any other failure to
    build is an error, not a skip)."""
    if sys.version_info >= (3, 12):
        raise Unavailable("indextts2-cli 1.0.2 needs Python < 3.12")
    VENV.mkdir(exist_ok=True)
    with open(VENV.parent / ".venv-indextts2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = VENV / "recipe.json"
        want = json.dumps(RECIPE, sort_keys=True)
        if not (marker.is_file() and marker.read_text() == want and python().exists()):
            for child in VENV.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=600)
            with open(VENV / "build.log", "w") as log:
                try:
                    _pip(TORCH, log=log)
                except RuntimeError:       # the one thing a machine may lack: then the tier is skipped
                    raise Unavailable(f"{TORCH} (the CPU wheel) cannot be installed here") from None
                _pip("--no-deps", *NO_DEPS, log=log)
                _pip(*DEPS, log=log)
                _pip("--no-deps", *LATE, log=log)
            site = Path(sysconfig.get_paths(vars={"base": VENV, "platbase": VENV})["platlib"])
            for so in (site / "torchaudio" / "lib").glob("*.so"):    # CUDA builds: use the pure-Python code
                so.unlink()
            marker.write_text(want)
        _link_project()
    return python()


def ensure_checkpoints() -> Path:
    """Tiny seeded IndexTTS-2 checkpoints (``build_checkpoints.py``), cached by the builder's content."""
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:12]
    folder = VENV / f"checkpoints-{digest}"
    with open(VENV.parent / ".venv-indextts2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "BUILT").is_file():
            for old in VENV.glob("checkpoints-*"):
                shutil.rmtree(old)
            tmp = VENV / f".building-{digest}"
            shutil.rmtree(tmp, ignore_errors=True)
            r = subprocess.run([str(python()), str(BUILDER), str(tmp)], capture_output=True, text=True,
                               env=offline_env(), timeout=3600)
            if r.returncode != 0:
                raise RuntimeError(f"building the tiny checkpoints failed:\n{r.stderr[-4000:]}")
            tmp.rename(folder)
    return folder


NONET = textwrap.dedent("""
    import socket
    def _blocked(*a, **k):
        raise OSError("network access blocked by the test")
    socket.socket.connect = _blocked
    socket.socket.connect_ex = _blocked
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
""")


def offline_env(nonet: Path | None = None, **extra: str) -> dict:
    """The environment of a child process of the real venv: the repository importable, no hub
    settings of the machine's (and, with ``nonet``, a sitecustomize blocking every socket)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "PYTHON"))}
    path = [str(REPO)]
    if nonet is not None:
        nonet.mkdir(parents=True, exist_ok=True)
        (nonet / "sitecustomize.py").write_text(NONET)
        path.insert(0, str(nonet))
    env.update({"PYTHONPATH": os.pathsep.join(path), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"},
               **extra)
    return env
