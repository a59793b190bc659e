"""Stage 4, takes: every line spoken by its engine (:mod:`.synthesizer`: natural takes, takes
at the plan's speed, exact-length takes), stored by content in the take cache (:mod:`.cache`),
with the engine set up for the run (:mod:`.engine`)."""
from .cache import TakeCache
from .synthesizer import NotCached, Synthesizer, Take

__all__ = ["NotCached", "Synthesizer", "Take", "TakeCache"]
