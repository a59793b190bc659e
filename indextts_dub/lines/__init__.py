"""Stage 2, lines: the casting file (:mod:`.castfile`) and the cues cast into lines
(:mod:`.casting`): character, voice, emotion (:mod:`.emotion`), language, speech text, with
the subtitle's inline overrides (:mod:`.inline`)."""
from .castfile import CastFile, Character, read_cast_file
from .casting import CastLines, Line, cast_cues

__all__ = ["CastFile", "CastLines", "Character", "Line", "cast_cues", "read_cast_file"]
