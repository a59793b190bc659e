"""Stage 5b, optional (``--qa``): every fitted clip heard by Whisper and scored against its line.

:func:`check` hears each clip in its line's language (:mod:`.hearing`, Whisper base int8 from
the ``qa`` extra, loaded once, clips decoded in batches), scores what was heard against the
line's speech text (:mod:`.score`: word error rate for English, toneless-pinyin syllable error
rate for Mandarin), predicts its listening quality (:mod:`.mos`, DNSMOS from the ``speechmos``
wheel) and returns the clips with ``Clip.qa`` set::

    {"heard": "...", "score": 0.0, "attempts": 1, "passed": True, "threshold": 0.25, "mos": 3.1}

A line past the threshold also gets a warning, so the report, the summary and the timelines'
markers show it. Results are cached beside the takes by the clip's content (its samples, text,
language, the model and the scorer), so a re-run hears only the lines whose clips changed.
``--qa retry`` (:mod:`.retry`) renders failed lines again with the engine's alternatives.
"""
from __future__ import annotations

from .ear import THRESHOLD, check, clip_key, hear, verdict, with_verdict
from .retry import retry

MODES = ("check", "retry")

__all__ = ["MODES", "THRESHOLD", "check", "clip_key", "hear", "retry", "verdict", "with_verdict"]
