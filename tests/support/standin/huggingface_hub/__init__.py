"""Stand-in of huggingface_hub's ``hf_hub_download`` with the real one's import-time behaviour:
the cache folder and the offline flag are read from the environment once, into
:mod:`.constants`, when the package is first imported, and every download looks there at call
time. It never reaches a network: where the real one would download, it records the attempt
and raises."""
from __future__ import annotations

import os

from . import constants

ATTEMPTS: list[dict] = []        # every call: repo, file, cache, offline flag, found


class LocalEntryNotFoundError(FileNotFoundError):
    pass


def _snapshot(cache: str, repo_id: str) -> str | None:
    root = os.path.join(cache, "models--" + repo_id.replace("/", "--"), "snapshots")
    if not os.path.isdir(root):
        return None
    snaps = sorted(os.listdir(root))
    return os.path.join(root, snaps[0]) if snaps else None


def hf_hub_download(repo_id, filename, cache_dir=None, **kwargs):
    cache = str(cache_dir or constants.HF_HUB_CACHE)
    snap = _snapshot(cache, repo_id)
    path = os.path.join(snap, filename) if snap else None
    found = bool(path and os.path.isfile(path))
    ATTEMPTS.append({"repo": repo_id, "file": filename, "cache": cache, "offline": constants.HF_HUB_OFFLINE,
                     "found": found})
    if found:
        return path
    if constants.HF_HUB_OFFLINE:
        raise LocalEntryNotFoundError(f"{repo_id}/{filename} is not in the cache {cache} and offline mode is on")
    raise ConnectionError(f"would download {repo_id}/{filename} from the hub (not in the cache {cache})")
