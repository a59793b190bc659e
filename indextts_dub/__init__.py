"""indextts-dub: subtitle-driven dubbing that lands every line sample-exact.

    import indextts_dub
    result = indextts_dub.dub("episode.srt", cast="cast.yaml", video="clip.mp4", out="out")
    print(result.summary)

The flow, one subpackage per stage (:data:`LAYERS`): :mod:`.cues` -> :mod:`.lines` ->
:mod:`.plan` -> :mod:`.takes` -> :mod:`.clips` (-> :mod:`.qa`) -> :mod:`.deliver`, run in order by
:mod:`.pipeline`. Heavy libraries load when an engine loads, not when this package is imported.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import DubError

__all__ = ["LAYERS", "dub", "DubError", "__version__"]

# The package's layers, earliest first. A module imports only from its own layer and earlier
# ones, and no two modules import each other, however indirectly (tests/test_architecture.py).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "timebase", "fsio", "sharedcache", "audio", "media", "text"),   # shared by everything
    ("engines",),       # the engine contract and the engines (an engine imports only what is above)
    ("cues",),          # stage 1: what is said and when
    ("voices",),        # voices, for stage 2
    ("lines",),         # stage 2: who says it, how
    ("plan",),          # stage 3: when and how fast
    ("takes",),         # stage 4: the engine speaks
    ("clips",),         # stage 5: each take fitted to its plan
    ("qa",),            # stage 5b (--qa): each clip heard and scored
    ("deliver",),       # stage 6: files
    ("pipeline",),      # the stages in order
    ("cli", "service"),  # the command line; the stages as Celery tasks, the HTTP API
)


def dub(*args, **kwargs):
    """Dub a subtitle file; see :func:`indextts_dub.pipeline.dub` for the arguments."""
    from .pipeline import dub as _dub

    return _dub(*args, **kwargs)
