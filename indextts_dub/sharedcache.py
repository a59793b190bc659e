"""A cache shared between processes and machines, consulted before the files on this machine.

Speaker embeddings (:func:`indextts_dub.voices.embedding.clip_embedding`) and engine
conditioning (:class:`indextts_dub.engines.condstore.ConditioningStore`) are kept by clip
content in files on the machine that computed them. A process that belongs to a pool (a
service worker, the API) installs a shared layer with :func:`use` (the service's is Redis,
:mod:`indextts_dub.service.voicecache`): they look there first, fall back to their files, and
put what they compute (or find only in a file) there too, so the first job that uses a voice
pays for it and every later job on any worker reuses it.

Keys are ``KIND/...`` text (``embedding/<model>/<clip hash>``, ``conditioning/<engine>/<engine
version>/<clip hash>/<kind>``); values are bytes. A layer that fails only costs time: it answers
None and drops what it cannot keep, it never raises.
"""
from __future__ import annotations

from typing import Protocol


class Layer(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


_layer: Layer | None = None


def use(layer: Layer | None) -> None:
    """Install ``layer`` for this process (None: files only)."""
    global _layer
    _layer = layer


def get(key: str) -> bytes | None:
    if _layer is None:
        return None
    try:
        return _layer.get(key)
    except Exception:          # noqa: BLE001 - a shared cache that fails only costs time
        return None


def put(key: str, data: bytes) -> None:
    if _layer is None:
        return
    try:
        _layer.put(key, data)
    except Exception:          # noqa: BLE001
        pass
