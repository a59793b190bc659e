"""Timelines out: the master timeline at 48 kHz (:mod:`.master`, :mod:`.outputs`), editor copies
at the frame rate (:mod:`.framesnap`, one module per format in :mod:`.editors`), and a
reference render of a timeline's audio (:mod:`.render`)."""
from .outputs import TimelineOutputs, write_all

__all__ = ["TimelineOutputs", "write_all"]
