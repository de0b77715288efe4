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

# In a process that writes for another (a forked writer: scanner.background), what
# write_atomic writes is left complete beside its target, for that other process to rename
# into place: (temporary, target), in order.
_staged: list[tuple[Path, Path]] | None = None


def stage() -> list[tuple[Path, Path]]:
    """From now on, in this process, write_atomic leaves each file complete beside its target
    instead of renaming it over it: the list it adds (temporary, target) to."""
    global _staged
    _staged = []
    return _staged


def write_atomic(target: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write through `write(fileobj)` into a temporary file beside `target` (created private,
    mode 0600), flush it to disk, then rename it over `target` (see `stage`); on any failure
    the temporary file goes and `target` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                    dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if _staged is not None:
            _staged.append((temporary, target))
            return target
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
