"""Rebuild the Mandarin front end's phrase readings (package data) from pypinyin-dict.

    pip install pypinyin-dict==0.9.0 && python scripts/build_zh_phrases.py
    python scripts/build_zh_phrases.py --check      # only verify that the shipped file is what this builds

``pypinyin-dict``'s ``large_pinyin`` (phrase-pinyin-data's large_pinyin.txt: zdic.net's word and
idiom dictionaries, CC-CEDICT and pypinyin's own table merged, 411 957 phrases) reads polyphones in
context far better than pypinyin's own 47 111 phrases, but it is a 108 MiB install of Python
modules that take 1.1 s and 250 MB of memory to load. Most of its phrases are read by pypinyin's
own tables exactly as it reads them. This script keeps only the others: every phrase whose
reading in ``large_pinyin`` differs from what pypinyin gives for the whole phrase without it (and
then with the phrases kept so far, until none differs), written
to ``indextts_dub/text/data/zh_phrases.tsv`` (one ``phrase<TAB>reading`` line each, tone marks,
sorted), with a header naming the versions it was built from. Loading that file into pypinyin
reads every phrase of the large table as the large table does (tests/text/test_zh.py checks it
against pypinyin-dict when that is installed).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import sys
from pathlib import Path

SOURCE = "pypinyin-dict==0.9.0"
OUT = Path(__file__).resolve().parents[1] / "indextts_dub" / "text" / "data" / "zh_phrases.tsv"


def build() -> str:
    version = md.version("pypinyin-dict")
    if f"pypinyin-dict=={version}" != SOURCE:
        raise SystemExit(f"this script reads {SOURCE}; installed is pypinyin-dict {version}: pip install {SOURCE}")
    from pypinyin import Style, load_phrases_dict, pinyin    # before the large table is loaded

    from pypinyin_dict.phrase_pinyin_data import large_pinyin

    wanted = {p: [r[0] for r in rs] for p, rs in large_pinyin.phrases_dict.items() if len(rs) == len(p)}
    kept: dict[str, list[str]] = {}
    todo = dict(wanted)
    while todo:
        # phrases pypinyin (with what is kept so far) reads otherwise; keeping some changes how
        # pypinyin cuts longer phrases that contain them, so check again until none differs
        new = {p: w for p, w in todo.items() if [r[0] for r in pinyin(p, style=Style.TONE)] != w}
        if not new:
            break
        kept.update(new)
        load_phrases_dict({p: [[s] for s in w] for p, w in new.items()})
        todo = {p: w for p, w in wanted.items() if p not in kept}
    rows = sorted(f"{p}\t{' '.join(w)}" for p, w in kept.items())
    body = "\n".join(rows) + "\n"
    header = (f"# {len(rows)} phrases of {SOURCE}'s large_pinyin ({len(large_pinyin.phrases_dict)} phrases) that "
              f"pypinyin {md.version('pypinyin')} alone reads otherwise\n"
              f"# built by scripts/build_zh_phrases.py; sha256 of the lines below: "
              f"{hashlib.sha256(body.encode('utf-8')).hexdigest()}\n")
    return header + body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing it")
    args = ap.parse_args()
    text = build()
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'up to date' if same else 'differs from what this script builds'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {text.count(chr(10)) - 2} phrases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
