"""What latteprov records about a file on disk: where (host, path), how big, when, its checksum."""
from __future__ import annotations

import hashlib
import os
import socket
from datetime import datetime, timezone
from typing import Any

CHUNK = 1 << 20


def host() -> str:
    """This machine's name, as DataFiles record it."""
    return socket.gethostname()


def stat_props(stat: os.stat_result) -> dict[str, Any]:
    """Size, modification time and on-disk status from a stat result."""
    return {"size": stat.st_size, "mtime": datetime.fromtimestamp(stat.st_mtime, timezone.utc),
            "status": "on_disk", "checked_at": datetime.now(timezone.utc)}


def sha256(path: str) -> str:
    """The sha256 of a file, read in 1 MiB chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
