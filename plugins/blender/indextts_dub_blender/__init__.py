"""indextts-dub for Blender's Video Sequence Editor.

- Sequencer > Sidebar > Dub > "Import dub timeline": the dub tracks of an indextts-dub
  editor copy (``out/editor/timeline.otio``; picking ``out/timeline.otio`` or ``out/`` finds
  it) become sound strips, one channel per character, each on its exact frame (the clip's
  media carries the sub-frame remainder as leading silence, so the sound lands on its sample).
  Strips are named per line (``0001 Alice: Hello there.``); warnings become timeline markers.
- "Dub scene": the scene's text strips (or a subtitle file) are dubbed with indextts-dub
  and the result imported as above.

Works with Blender 3.4 (Debian's) through 4.x: Blender 4.4 renamed
``SequenceEditor.sequences`` to ``strips``; both are handled. Needs OpenTimelineIO and
indextts-dub importable: set "Python packages" in the add-on preferences to the
site-packages folder of the environment where ``pip install indextts-dub`` ran.
"""
from __future__ import annotations

import os
import site
import sys
import tempfile
from pathlib import Path

bl_info = {
    "name": "indextts-dub",
    "author": "indextts-dub developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer > Sidebar > Dub",
    "description": "Import dubbed dialogue timelines as sound strips; dub the scene's text strips",
    "category": "Sequencer",
}

try:
    import bpy
    from bpy.props import BoolProperty, IntProperty, StringProperty
except ImportError:      # imported outside Blender (tests of the plain logic)
    bpy = None


def strips(ed):
    """The editor's top-level strips (Blender 4.4+: ``strips``; before: ``sequences``)."""
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def all_strips(ed):
    return ed.strips_all if hasattr(ed, "strips_all") else ed.sequences_all


def _prefs(context):
    addon = context.preferences.addons.get(__package__ or __name__)
    return addon.preferences if addon else None


def _add_python_path(context) -> None:
    p = _prefs(context)
    extra = (p.python_path if p else "") or os.environ.get("INDEXTTS_DUB_SITE", "")
    for entry in filter(None, extra.split(os.pathsep)):
        if entry not in sys.path:
            site.addsitedir(entry)


def first_free_channel(ed) -> int:
    used = [s.channel for s in all_strips(ed)]
    return (max(used) + 1) if used else 1


def apply_import(scene, imp, first_channel: int | None = None, set_rate: bool = True) -> list:
    """Place a :class:`dubtimeline.DubImport` in the scene's sequencer; returns the new strips."""
    from .dubtimeline import blender_fps

    ed = scene.sequence_editor or scene.sequence_editor_create()
    fps, base = blender_fps(imp.rate)
    if scene.render.fps != fps or abs(scene.render.fps_base - base) > 1e-9:
        if not set_rate and len(all_strips(ed)):
            raise ValueError(f"the scene runs at {scene.render.fps / scene.render.fps_base:.3f} fps but the "
                             f"timeline at {float(imp.rate):.3f} fps")
        scene.render.fps, scene.render.fps_base = fps, base
    scene.render.ffmpeg.audio_mixrate = 48000
    shift = (first_channel if first_channel is not None else first_free_channel(ed)) - min(
        (s.channel for s in imp.strips), default=1)
    made = []
    for s in imp.strips:
        strip = strips(ed).new_sound(name=s.name[:63], filepath=s.filepath, channel=s.channel + shift,
                                     frame_start=scene.frame_start + s.frame)
        if strip.frame_final_duration != s.frames and s.frames > 0:
            strip.frame_final_duration = s.frames
        strip["indextts_dub_line"] = s.line if s.line is not None else -1
        strip["indextts_dub_character"] = s.character
        made.append(strip)
    if hasattr(ed, "channels"):            # channel names exist from Blender 3.5
        for k, ch in enumerate(imp.characters):
            idx = min(s.channel for s in imp.strips if s.character == ch) + shift if any(
                s.character == ch for s in imp.strips) else None
            if idx is not None and idx < len(ed.channels):
                ed.channels[idx].name = ch
    for frame, name in imp.markers:
        scene.timeline_markers.new(name[:63], frame=scene.frame_start + frame)
    scene.frame_end = max(scene.frame_end, scene.frame_start + imp.frames - 1)
    return made


def text_cues(scene):
    """The scene's text strips as cues (frames from the scene's first frame); a strip's channel
    name (Blender 3.5+) or a ``Name:`` prefix in its text says who speaks."""
    from .dubtimeline import TextCue

    ed = scene.sequence_editor
    if ed is None:
        return []
    out = []
    for s in all_strips(ed):
        if s.type != "TEXT" or s.mute or not s.text.strip():
            continue
        who = None
        if hasattr(ed, "channels") and s.channel < len(ed.channels):
            name = ed.channels[s.channel].name
            if name and not name.startswith("Channel"):
                who = name
        out.append(TextCue(s.frame_final_start - scene.frame_start, s.frame_final_end - scene.frame_start,
                           s.text.strip(), who))
    return out


if bpy is not None:

    class INDEXTTS_DUB_AP_preferences(bpy.types.AddonPreferences):
        bl_idname = __package__ or __name__

        python_path: StringProperty(name="Python packages", subtype="DIR_PATH",
                                    description="site-packages folder(s) holding opentimelineio and indextts_dub")
        dub_command: StringProperty(name="Dub command", default="indextts-dub",
                                    description="how to run indextts-dub (e.g. /path/.venv/bin/indextts-dub)")
        cast_file: StringProperty(name="Casting file", subtype="FILE_PATH")

        def draw(self, context):
            for p in ("python_path", "dub_command", "cast_file"):
                self.layout.prop(self, p)

    class INDEXTTS_DUB_OT_import_timeline(bpy.types.Operator):
        """Import an indextts-dub timeline: one channel per character, strips on their exact frames"""

        bl_idname = "indextts_dub.import_timeline"
        bl_label = "Import dub timeline"
        bl_options = {"REGISTER", "UNDO"}

        filepath: StringProperty(subtype="FILE_PATH")
        filter_glob: StringProperty(default="*.otio", options={"HIDDEN"})
        first_channel: IntProperty(name="First channel", default=0, min=0,
                                   description="0: the first channel above the strips already there")
        set_scene_rate: BoolProperty(name="Set the scene's frame rate", default=True)

        def invoke(self, context, event):
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}

        def execute(self, context):
            _add_python_path(context)
            from .dubtimeline import read_dub_timeline

            try:
                imp = read_dub_timeline(self.filepath)
                made = apply_import(context.scene, imp, self.first_channel or None, self.set_scene_rate)
            except Exception as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            self.report({"INFO"}, f"{len(made)} dub strips, {len(imp.characters)} characters")
            return {"FINISHED"}

    class INDEXTTS_DUB_OT_dub_scene(bpy.types.Operator):
        """Dub the scene's text strips (or a subtitle file) with indextts-dub and import the result"""

        bl_idname = "indextts_dub.dub_scene"
        bl_label = "Dub scene"
        bl_options = {"REGISTER", "UNDO"}

        subtitles: StringProperty(name="Subtitles", subtype="FILE_PATH",
                                  description="a subtitle file to dub instead of the text strips")
        cast_file: StringProperty(name="Casting file", subtype="FILE_PATH")
        output: StringProperty(name="Output folder", subtype="DIR_PATH",
                               description="default: a 'dub' folder beside the .blend file")
        command: StringProperty(name="Dub command", description="default: the add-on preferences' (indextts-dub)")

        def execute(self, context):
            _add_python_path(context)
            from .dubtimeline import cue_timeline, dub_command, read_dub_timeline, run_dub

            scene = context.scene
            prefs = _prefs(context)
            out = Path(bpy.path.abspath(self.output)) if self.output else (
                Path(bpy.path.abspath("//dub")) if bpy.data.filepath else Path(tempfile.mkdtemp(prefix="dub-")))
            out.mkdir(parents=True, exist_ok=True)
            from .dubtimeline import _rate

            rate = _rate(scene.render.fps / scene.render.fps_base)
            frames = scene.frame_end - scene.frame_start + 1
            cues = [] if self.subtitles else text_cues(scene)
            if not self.subtitles and not cues:
                self.report({"ERROR"}, "no text strips to dub (or give a subtitle file)")
                return {"CANCELLED"}
            try:
                cut = cue_timeline(cues, rate, frames, out / "scene_cues.otio", scene.name)
            except ValueError as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            cast = bpy.path.abspath(self.cast_file or (prefs.cast_file if prefs else "")) or None
            command = self.command or (prefs.dub_command if prefs else "") or "indextts-dub"
            args = dub_command(command, cut, out / "result", cast,
                               bpy.path.abspath(self.subtitles) if self.subtitles else None)
            proc = run_dub(args)
            if proc.returncode != 0:
                self.report({"ERROR"}, (proc.stderr.strip() or proc.stdout.strip() or "the dub failed")[-500:])
                return {"CANCELLED"}
            imp = read_dub_timeline(out / "result" / "editor" / "timeline.otio")
            made = apply_import(scene, imp, None, set_rate=False)
            self.report({"INFO"}, f"dubbed {len(made)} lines")
            return {"FINISHED"}

    class INDEXTTS_DUB_PT_panel(bpy.types.Panel):
        bl_space_type = "SEQUENCE_EDITOR"
        bl_region_type = "UI"
        bl_category = "Dub"
        bl_label = "indextts-dub"

        def draw(self, context):
            self.layout.operator(INDEXTTS_DUB_OT_import_timeline.bl_idname, icon="SOUND")
            self.layout.operator(INDEXTTS_DUB_OT_dub_scene.bl_idname, icon="SPEAKER")

    CLASSES = (INDEXTTS_DUB_AP_preferences, INDEXTTS_DUB_OT_import_timeline, INDEXTTS_DUB_OT_dub_scene,
               INDEXTTS_DUB_PT_panel)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
