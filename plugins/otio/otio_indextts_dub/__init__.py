"""OpenTimelineIO plugin of indextts-dub (found through the ``opentimelineio.plugins`` entry
point; ``plugin_manifest.json`` lists what it adds):

- adapter ``indextts_subtitles``: ``.srt``, ``.ass``/``.ssa`` and ``.vtt`` files read as a
  timeline of dialogue (``otioconvert -i episode.srt -o cues.otio``);
- hook ``indextts_dub_frame_snap`` on ``pre_adapter_write``: dub tracks of an indextts-dub
  master timeline (48 kHz) are snapped to the timeline's frames before a format that needs
  frame times (FCP 7 XML, .kdenlive, AAF, ...) is written.
"""
