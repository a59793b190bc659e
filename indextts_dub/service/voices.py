"""A tenant's voices on the service, and the voices a job may use.

Each tenant's registered voices live in a voice library of its own in the store
(``STORE/voices/tenants/<tenant>.sqlite``, :meth:`.Store.library`), added by
:meth:`Library.add <indextts_dub.voices.library.Library.add>` exactly as ``indextts-dub voices
add`` adds them: the same clip checks, the same consent rules
(:func:`~indextts_dub.voices.library.consent_record`, :func:`~indextts_dub.voices.library.check_consent`),
the same deny rule, applied to the service's deny list (``STORE/voices/deny.sqlite``, which the
operator keeps with ``indextts-dub voices deny ... --library STORE/voices/deny.sqlite``). A
tenant sees only its own library; a voice's id is its name.

A job names a registered voice as a local casting file names a library voice,
``voice: {library: NAME}``; it is resolved in the caller's library (the job's ``library``
option, set by the server, never by the client). A job's reference clip
(``voice: {ref: clip.wav}``) is a cloned voice: the server takes it only when the same clip,
by content, is one of the tenant's registered voices, so its consent is on record on the
server whatever the client did. A casting file may not name a library file of its own
(``voice_library``) nor any file outside the job's uploads.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import DubError, Problem, Problems
from ..lines import read_cast_file
from ..voices.library import Library, VoiceEntry, check_consent, consent_record
from .store import Store

MAX_CLIP = 20 * 1024 ** 2          # bytes of one uploaded voice clip (15 s of 48 kHz 24-bit stereo is 4.3 MB)
FORM_FIELDS = ("name", "clip", "consent", "by", "for", "date", "replace")
_FIELD = {"--consent": "consent", "--by": "by", "--for": "for", "--date": "date", "NAME": "name"}


def view(entry: VoiceEntry) -> dict[str, Any]:
    """What a client sees of a registered voice."""
    return {"id": entry.name, "name": entry.name, "seconds": round(entry.seconds, 3), "clip_hash": entry.clip_hash,
            "original_name": entry.original_name, "added_at": entry.added_at,
            "consent": {"who": entry.consent.who, "when": entry.consent.when, "for": entry.consent.purpose,
                        "statement": entry.consent.statement}}


def _open(store: Store, tenant: str, write: bool = False) -> Library | None:
    path = store.library(tenant)
    if not write and not path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return Library(path, write=write, deny_lists=(store.deny_list,))


def register(store: Store, tenant: str, name: str, clip: Path, upload_name: str, statement: str | None,
             who: str | None = None, purpose: str | None = None, when: str | None = None,
             replace: bool = False) -> VoiceEntry:
    """Add the clip at ``clip`` (uploaded as ``upload_name``) as the tenant's voice ``name`` with
    its consent; :class:`DubError` naming the form field (``name``, ``clip``, ``consent``, ``by``,
    ``for``, ``date``) when the record, the clip or the name is refused (a denied voice included)."""
    record = consent_record(name or "", statement, who, purpose, when)
    try:
        check_consent(record)                 # before the clip is read: the cheap refusals first
        lib = _open(store, tenant, write=True)
        assert lib is not None
        with lib:
            return lib.add(name, clip, record, replace=replace)
    except DubError as exc:
        raise DubError([_as_form(p, clip, upload_name, store.library(tenant)) for p in exc.problems]) from None


def _as_form(p: Problem, clip: Path, upload_name: str, library: Path) -> Problem:
    """A library's problem as the form's: the upload's name for the clip, the form's field
    names for the command line's flags, no server path."""
    file = p.file
    if file is not None and Path(file) == clip:
        file = upload_name
    elif file is not None and Path(file) == library:
        file = None
    field = _FIELD.get(p.field or "", p.field)
    message = p.message.replace(str(library), "the tenant's voices").replace("pass --replace", "send replace=true")
    return Problem(file, p.line, field, message)


def ensure_library(store: Store, tenant: str) -> None:
    """The tenant's library exists (empty until a voice is registered), so a job naming a voice
    it lacks is told which voices it has."""
    if not store.library(tenant).is_file():
        lib = _open(store, tenant, write=True)
        assert lib is not None
        lib.close()


def stage_clip(store: Store) -> Path:
    """A fresh folder for an uploaded clip while it is checked (removed by the caller)."""
    folder = store.root / "voices" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder))


def entries(store: Store, tenant: str) -> list[VoiceEntry]:
    lib = _open(store, tenant)
    if lib is None:
        return []
    with lib:
        return lib.entries()


def get(store: Store, tenant: str, name: str) -> VoiceEntry | None:
    lib = _open(store, tenant)
    if lib is None:
        return None
    with lib:
        return lib.get(name)


def remove(store: Store, tenant: str, name: str) -> bool:
    """Forget the tenant's voice ``name`` (its clip, embedding and cached conditioning with it)."""
    if _open(store, tenant) is None:
        return False
    lib = _open(store, tenant, write=True)
    assert lib is not None
    with lib:
        return lib.remove(name)


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def check_job(store: Store, tenant: str, inputs: Path, cast: str | None) -> None:
    """What the server refuses in a job's casting file (``cast``, relative to the job's input
    folder ``inputs``, which must be the working folder): its own ``voice_library``, a file
    outside the job's uploads, and a reference clip that is none of the tenant's registered
    voices. A casting file that cannot be read is left for the job's own checks to report."""
    if cast is None:
        return
    try:
        cf = read_cast_file(cast)
    except DubError:
        return
    root = inputs.resolve()
    problems = Problems()
    if cf.voice_library:
        problems.add(cast, cf.lines.get("voice_library"), "voice_library",
                     "a job on the server uses its tenant's registered voices (POST /v1/voices), named "
                     "{library: NAME}; leave voice_library out")
    lib = _open(store, tenant)
    try:
        for spec in cf.voices().values():
            if spec is None or spec.kind != "ref":
                continue
            label = Path(spec.value).name
            if not Path(spec.value).resolve().is_relative_to(root):
                problems.add(cast, spec.line, spec.where, f"{label}: names a file outside the job's uploads")
                continue
            if spec.clip is not None and (lib is None or lib.voice_of_clip(spec.clip.hash) is None):
                problems.add(cast, spec.line, spec.where,
                             f"{label} clones a voice whose consent is not on record on this server: register it "
                             "first (POST /v1/voices with the clip and its consent), then name it "
                             "{library: NAME} or send that same clip")
    finally:
        if lib is not None:
            lib.close()
    emotions = [(None, "default_emotion", cf.default_emotion)] + [
        (c.lines.get("emotion_ref"), f"characters.{c.name}.emotion_ref", c.emotion) for c in cf.characters.values()]
    for line, where, e in emotions:
        if e is not None and e.ref and not Path(e.ref).resolve().is_relative_to(root):
            problems.add(cast, line, where, f"{Path(e.ref).name}: names a file outside the job's uploads")
    problems.raise_if_any()
