"""The closing summary a run prints: lines, speeds, loudness, what it cost, warnings, files."""
from __future__ import annotations

from ..clips import Clip
from ..cues import Skipped
from ..timebase import SAMPLE_RATE, timecode
from .plan_json import RunFacts, summary_figures


def summary_text(clips: list[Clip], skipped: list[Skipped], warnings: list[str], facts: RunFacts) -> str:
    fig = summary_figures(clips, skipped)
    out = []
    chars = ", ".join(f"{k} ({v})" for k, v in fig["characters"].items())
    out.append(f"Dubbed {fig['lines']} lines, {len(fig['characters'])} characters: {chars}")
    if fig["speed"]:
        sp = fig["speed"]
        out.append(f"Speeds: {fig['natural_speed_lines']} at natural speed, min {sp['min']:.2f}, "
                   f"median {sp['median']:.2f}, max {sp['max']:.2f} (as heard); residual stretch max "
                   f"{fig['residual_stretch']['max']:.3f}, {fig['residual_stretch']['over_5_percent']} over 5%")
    if fig["overruns"] or fig["compressed_lines"]:
        out.append(f"Timing: {fig['overruns']} lines overrun ({fig['overrun_ms']:.0f} ms in all), "
                   f"{fig['compressed_lines']} compressed past the speed bound; max speed jump "
                   f"{fig['max_speed_jump']:.2f}")
    if facts.mix.get("dialogue_lufs") is not None:
        out.append(f"Loudness: dialogue {facts.mix['dialogue_lufs']:.1f} LUFS (target "
                   f"{facts.mix['loudness_target_lufs']}), mix true peak {facts.mix['mix_true_peak_dbtp']:.1f} dBTP")
    out.append(f"Programme {timecode(facts.programme)}; mix gain {facts.gain_db:+.1f} dB; "
               f"{facts.synthesis_calls} synthesis calls ({facts.synthesis_calls / max(1, len(clips)):.2f} per line)")
    if facts.wall_seconds:
        rtf = facts.wall_seconds / (facts.programme / SAMPLE_RATE) if facts.programme else 0
        out.append(f"Took {facts.wall_seconds:.1f} s ({rtf:.2f}x real time, engine {facts.engine_seconds:.1f} s)")
    checked = [c.qa for c in clips if c.qa is not None]
    if checked:
        failed = sum(not q["passed"] for q in checked)
        worst = max(q["score"] for q in checked)
        out.append(f"Heard by Whisper: {len(checked) - failed} of {len(checked)} lines pass, {failed} failed "
                   f"(worst error {worst:.2f}, threshold {checked[0]['threshold']:.2f})")
    if facts.cache_damaged:
        out.append(f"Take cache: {facts.cache_damaged} damaged entries (torn or truncated) were spoken again")
    if facts.engine_notes:
        out.extend(facts.engine_notes)
    notes = [f"  line {c.line.index} ({c.line.cue.source}, {c.line.character}): {w}"
             for c in clips for w in c.warnings]
    notes += [f"  skipped cue {s.cue.id} ({s.cue.source}): {s.reason}" for s in skipped]
    notes += [f"  {w}" for w in warnings]
    if notes:
        out.append(f"Warnings ({len(notes)}):")
        out.extend(notes[:20])
        if len(notes) > 20:
            out.append(f"  ... and {len(notes) - 20} more in plan.json")
    out.append("Wrote:")
    for name, path in facts.outputs.items():
        out.append(f"  {name:9s} {path}")
    return "\n".join(out)

