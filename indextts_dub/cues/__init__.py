"""Stage 1, cues: what is said and when, from a subtitle file or an editor timeline.

:func:`load_cues` is the stage: a subtitle file (:mod:`.subtitles`), a timeline's own dialogue
markers or clips (:mod:`.timeline_cues`), or subtitles aligned to a timeline, as :class:`Cue` s
with times in samples at 48 kHz. :mod:`.timeline_in` opens and measures timelines,
:mod:`.otio_json` reads OpenTimelineIO JSON as written.
"""
from .cue import Cue, Cues, Skipped
from .subtitles import read_cues
from .timeline_cues import load_cues
from .timeline_in import TimelineIn, TimelineOptions

__all__ = ["Cue", "Cues", "Skipped", "TimelineIn", "TimelineOptions", "load_cues", "read_cues"]
