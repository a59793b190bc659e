"""Other projects' subtitle test files (tests/data/thirdparty/): the dub speaks exactly the text
of each cue that their own tests expect, and refuses the files they refuse."""
from __future__ import annotations

import pytest

from support import thirdparty

CASES = [c for s in thirdparty.SOURCES for c in thirdparty.cases(s)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.source}/{c.name}" for c in CASES])
def test_speaks_what_upstream_expects(case):
    kind, detail = thirdparty.outcome(case)
    assert kind == "ok", detail


def test_every_source_has_its_provenance():
    for source in thirdparty.SOURCES:
        text = (thirdparty.ROOT / source / "PROVENANCE.md").read_text(encoding="utf-8")
        assert "Licence" in text and "Commit" in text and "https://github.com/" in text
