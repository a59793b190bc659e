"""API keys per tenant: a file of ``TENANT SHA256-OF-KEY`` lines (``#`` starts a comment).

The server keeps only the keys' hashes; ``indextts-dub keys new TENANT --keys FILE`` appends one
and prints the key once. A callback is signed with HMAC-SHA256 under the hash of the key that
submitted the job, so the client that holds the key can check it and nobody else can sign.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from .. import fsio
from ..errors import DubError, Problems

TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DIGEST = re.compile(r"[0-9a-f]{64}")
SIGNATURE_HEADER = "X-Indextts-Dub-Signature"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>``, keyed by ``secret`` (a key's digest)."""
    return "sha256=" + hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()


def read(path: str | Path) -> dict[str, str]:
    """digest -> tenant; every malformed line is reported with its number."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DubError.at(p, None, "--keys", f"cannot read: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    problems = Problems()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not TENANT.fullmatch(parts[0]) or not DIGEST.fullmatch(parts[1]):
            problems.add(p, n, "key", "write TENANT and the key's SHA-256 (64 hex digits), e.g. "
                                      "'acme 9f86d0...'; make one with: indextts-dub keys new TENANT")
            continue
        out[parts[1]] = parts[0]
    problems.raise_if_any()
    return out


def new(path: str | Path, tenant: str) -> str:
    """A new key for ``tenant``, its digest appended to the file; the key itself is returned only."""
    if not TENANT.fullmatch(tenant):
        raise DubError.at(None, None, "TENANT", "letters, digits, '_', '.', '-' (at most 64), starting with a letter or digit")
    p = Path(path)
    read(p)                                     # refuse to append to a broken file
    key = "idub_" + secrets.token_urlsafe(32)
    old = p.read_text(encoding="utf-8") if p.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    fsio.write_text(p, f"{old}{tenant} {digest(key)}\n")
    return key


class Keys:
    """The keys file, read again when it changes (a key added while the server runs works)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._stamp: tuple | None = None
        self._by_digest: dict[str, str] = {}

    def tenant(self, key: str) -> tuple[str, str] | None:
        """(tenant, digest) for a key, or None."""
        if self.path is None:
            return None
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._by_digest = read(self.path) if stamp else {}
            self._stamp = stamp
        d = digest(key)
        for known, tenant in self._by_digest.items():
            if hmac.compare_digest(known, d):
                return tenant, d
        return None
