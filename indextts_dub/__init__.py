"""indextts-dub: subtitle-driven dubbing that lands every line sample-exact.

    import indextts_dub
    result = indextts_dub.dub("episode.srt", cast="cast.yaml", video="clip.mp4", out="out")
    print(result.summary)

Stages (each a plain function over plain data): :func:`indextts_dub.cues.read_cues`,
:func:`indextts_dub.casting.cast`, :func:`indextts_dub.plan.plan`,
:class:`indextts_dub.synthesis.Synthesizer`, :func:`indextts_dub.fit.fit`, then the
writers in :mod:`indextts_dub.pipeline`. Heavy libraries load when an engine loads,
not when this package is imported.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import DubError

__all__ = ["dub", "DubError", "__version__"]


def dub(*args, **kwargs):
    """Dub a subtitle file; see :func:`indextts_dub.pipeline.dub` for the arguments."""
    from .pipeline import dub as _dub

    return _dub(*args, **kwargs)
