"""Hand-written subtitle files in the layouts real files use (tests/data/corpus/): each beside a
JSON of what the dub must speak, cue by cue (line, speaker, speech), what it must skip and why,
and which language of a bilingual file it speaks, by default and with ``speak``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from indextts_dub.cues import read_cues
from indextts_dub.text.speech import has_han, speech_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
RUNS = [(p, run) for p in sorted(CORPUS.glob("*.json"))
        for run in json.loads(p.read_text(encoding="utf-8")).get("runs", [])]


def _subtitle(expected: Path) -> Path:
    found = [p for p in CORPUS.glob(expected.stem + ".*") if p.suffix != ".json"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("expected, run", RUNS, ids=[f"{p.stem}-speak-{r['speak']}" for p, r in RUNS])
def test_speaks_exactly_the_dialogue(expected, run):
    path = _subtitle(expected)
    cues = read_cues(path, speak=run["speak"])
    spoken = [[c.line, c.speaker, speech_text(c.text, "zh" if has_han(c.text) else "en")] for c in cues]
    assert spoken == run["spoken"]
    assert [[s.cue.line, s.reason] for s in cues.skipped] == run["skipped"]
    assert cues.speak == run["chosen"]
    for words in run.get("warnings", []):
        assert any(words in w for w in cues.warnings), cues.warnings
    if run["chosen"] and run["speak"] is None:         # the summary says which was chosen and how to pick the other
        other = "en" if run["chosen"] == "zh" else "zh"
        assert any(f"--speak {other}" in w for w in cues.warnings), cues.warnings


def test_every_corpus_file_has_its_expectations():
    subtitles = [p for p in CORPUS.iterdir() if p.suffix in (".srt", ".ass", ".ssa", ".vtt")]
    assert subtitles and all((p.with_suffix(".json")).is_file() for p in subtitles)
