"""Run inside Blender (``blender -b --factory-startup --addons indextts_dub_blender --python this``).

MODE=import: import DUB_TIMELINE with the add-on's operator, mix down to MIX_OUT.
MODE=dub:    make text strips from CUES_JSON, run the add-on's "Dub scene" operator
             (DUB_COMMAND, CAST, OUT_DIR), mix down to MIX_OUT.
Writes what it did to REPORT (JSON): the strips and the scene's rate.
"""
import json
import os

import bpy

scene = bpy.context.scene
mode = os.environ["MODE"]
ed = scene.sequence_editor or scene.sequence_editor_create()
coll = ed.strips if hasattr(ed, "strips") else ed.sequences
report = {"blender": bpy.app.version_string}

if mode == "import":
    report["result"] = list(bpy.ops.indextts_dub.import_timeline(filepath=os.environ["DUB_TIMELINE"]))
else:
    cues = json.loads(os.environ["CUES_JSON"])
    scene.render.fps, scene.render.fps_base = cues["fps"], cues["fps_base"]
    scene.frame_start, scene.frame_end = 1, cues["frames"]
    for k, (a, b, text) in enumerate(cues["cues"]):
        s = coll.new_effect(name=f"sub{k}", type="TEXT", channel=1, frame_start=1 + a, frame_end=1 + b)
        s.text = text
    report["result"] = list(bpy.ops.indextts_dub.dub_scene(cast_file=os.environ["CAST"], output=os.environ["OUT_DIR"],
                                                           command=os.environ["DUB_COMMAND"]))

report["fps"] = [scene.render.fps, scene.render.fps_base]
report["frame_start"], report["frame_end"] = scene.frame_start, scene.frame_end
report["strips"] = [{"name": s.name, "type": s.type, "channel": s.channel, "frame": int(s.frame_final_start),
                     "frames": int(s.frame_final_duration),
                     "file": s.sound.filepath if s.type == "SOUND" else None} for s in coll]
report["markers"] = [(m.name, m.frame) for m in scene.timeline_markers]
for s in coll:
    if s.type == "TEXT":
        s.mute = True
scene.render.ffmpeg.audio_mixrate = 48000
bpy.ops.sound.mixdown(filepath=os.environ["MIX_OUT"], check_existing=False, container="WAV", codec="PCM",
                      format="F32", accuracy=1024)
with open(os.environ["REPORT"], "w", encoding="utf-8") as fh:
    json.dump(report, fh, indent=2)
