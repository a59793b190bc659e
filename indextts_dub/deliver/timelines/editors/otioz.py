"""``editor/timeline.otioz``: the frame-rate copy with its media inside (OpenTimelineIO's
bundle: ``version.txt``, ``content.otio``, ``media/``). Written from the JSON document so the
original parts stay exactly as written; every external reference to a file that exists is
relinked to its copy inside the bundle. References to files that do not exist (allowed with
``--allow-offline-media``) are left as they are and listed in the summary.
"""
from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path

from ....fsio import atomic_path
from .base import CannotWrite

EDITORS = "DaVinci Resolve 18.5+ (media inside one file), OpenRV, any OTIO tool"
BUNDLE_VERSION = "1.0.0"


def _refs(node):
    if isinstance(node, dict):
        if str(node.get("OTIO_SCHEMA", "")).startswith("ExternalReference.") and node.get("target_url"):
            yield node
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def write(ctx, path: Path) -> None:
    from ....cues.timeline_in import resolve_media_path
    from ....cues.otio_json import dump

    doc = copy.deepcopy(ctx.doc)
    by_name: dict[str, Path] = {}
    offline = []
    for ref in _refs(doc):
        url = ref["target_url"]
        local = resolve_media_path(url, ctx.source_path) if ctx.source_path else None
        if local is None:
            from opentimelineio import url_utils

            if not url.startswith("file:"):
                continue
            local = Path(url_utils.filepath_from_url(url))
        local = ctx.local_file(local)
        if not local.is_file():
            offline.append(url)
            continue
        name = local.name
        if name in by_name and by_name[name].resolve() != local.resolve():
            raise CannotWrite(f"two media files share the name {name!r} ({by_name[name]} and {local}); "
                              "an OTIOZ bundle needs unique names")
        by_name[name] = local
        ref["target_url"] = f"media/{name}"
    def entry(name: str, compress: int) -> zipfile.ZipInfo:
        # a fixed date: the same inputs give the same bytes (a resumed run equals a clean one)
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        return info

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr(entry("version.txt", zipfile.ZIP_DEFLATED), BUNDLE_VERSION)
        z.writestr(entry("content.otio", zipfile.ZIP_DEFLATED), dump(doc))
        for name, local in sorted(by_name.items()):
            with z.open(entry(f"media/{name}", zipfile.ZIP_STORED), "w") as dst, open(local, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    if offline:
        ctx.notes.append(f"editor/timeline.otioz: {len(offline)} offline media reference(s) kept as they are "
                         f"(not inside the bundle), e.g. {offline[0]}")
