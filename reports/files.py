"""Atomic file writing: a file is either complete on disk or not there at all.

The one implementation for every file aa-scan writes into a run folder: the reports here, and
manifest.json and its signature (scanner.evidence), which import it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(target: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write through `write(fileobj)` into a temporary file beside `target` (created private,
    mode 0600), flush it to disk, then rename it over `target`; on any failure the temporary
    file goes and `target` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                    dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def write_bytes_atomic(target: Path, data: bytes) -> Path:
    """`data` into `target`, atomically (see write_atomic)."""

    def write(stream: IO[bytes]) -> None:
        stream.write(data)

    return write_atomic(target, write)
