"""Install a small engine distribution (a folder with a ``pyproject.toml`` and its modules) into a
site folder as pip would leave it: the modules, and a ``.dist-info`` with ``METADATA`` and the
``entry_points.txt`` its ``pyproject.toml`` declares, so ``importlib.metadata`` finds the engine
through the ``indextts_dub.engines`` group once the folder is on ``sys.path``."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOY = HERE / "toy_engine"


def install(site: Path, dist: Path = TOY) -> Path:
    meta = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n",
                                   encoding="utf-8")
    groups = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text(
        "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for g, eps in groups.items()),
        encoding="utf-8")
    for module in dist.glob("*.py"):
        shutil.copy(module, site / module.name)
    return site
