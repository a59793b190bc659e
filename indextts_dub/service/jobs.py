"""A job's input files: which files a run reads, and placing them in a job's input folder.

A job's inputs keep the names they have relative to one folder (the casting file's clips
beside it, as ``voices/mei.wav``), so a job reads them by the same relative names a local
run in that folder does, and writes the same bytes.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from ..errors import DubError
from ..deliver import owns
from ..fsio import Staging
from ..lines import read_cast_file

MAX_NAME = 200


def cast_files(cast: str | Path) -> list[Path]:
    """The files a casting file names (reference clips, emotion clips, the voice library), absolute."""
    cf = read_cast_file(cast)
    found: list[str] = [v.value for v in cf.voices().values() if v is not None and v.kind == "ref"]
    emotions = [cf.default_emotion] + [c.emotion for c in cf.characters.values()]
    found += [e.ref for e in emotions if e is not None and e.ref]
    if cf.voice_library:
        found.append(cf.voice_library)
    return sorted({Path(f).resolve() for f in found if Path(f).is_file()})


def input_files(subtitles: str | Path, cast: str | Path | None = None,
                video: str | Path | None = None) -> tuple[dict[str, str | None], dict[str, Path]]:
    """Every file a job of these inputs needs, by its name relative to the folder that holds them
    all, and the names of the subtitles, cast and video among them."""
    named = [("INPUT", Path(subtitles))] + [(f, Path(p)) for f, p in (("--cast", cast), ("--video", video)) if p]
    for field, p in named:
        if not p.is_file():
            raise DubError.at(p, None, field, "file not found")
    paths = [p.resolve() for _, p in named] + (cast_files(cast) if cast else [])
    root = Path(os.path.commonpath([p.parent for p in paths]))
    rel = (lambda p: p.resolve().relative_to(root).as_posix() if p else None)
    names = {"subtitles": rel(Path(subtitles)), "cast": rel(Path(cast) if cast else None),
             "video": rel(Path(video) if video else None)}
    return names, {rel(p): p for p in paths}


def copy_outputs(src: Path, dest: str | Path) -> list[Path]:
    """A job's output folder copied into ``dest`` as a local run leaves it: whole or not at all."""
    staging = Staging(dest, wait=True, owns=owns)
    try:
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src)
            if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                shutil.copyfile(f, staging.path(rel.as_posix()))
        return staging.commit()
    except BaseException:
        staging.abort()
        raise


def safe_name(name: str, field: str = "file") -> PurePosixPath:
    """An uploaded file's name as a relative path that stays inside the job's folder."""
    p = PurePosixPath(name.replace("\\", "/"))
    if (not name or len(name) > MAX_NAME or p.is_absolute() or ".." in p.parts or p.parts[:1] == (".",)
            or any(part.startswith(".") or not part.strip() or "\x00" in part for part in p.parts)):
        raise DubError.at(name[:MAX_NAME], None, field, "not an allowed file name (a relative path inside the job, "
                          "no '..', no hidden parts)")
    return p


def place(folder: Path, files: dict[str, Path | bytes]) -> None:
    """Copy ``files`` (relative name -> a file or its bytes) into ``folder``."""
    for name, src in files.items():
        dest = folder / safe_name(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            dest.write_bytes(src)
        else:
            shutil.copyfile(src, dest)
