"""scan.json: the document itself, written atomically.

Indented for people, except the findings array, which holds one compact finding per line:
readable and diffable, and written by json's C encoder (indentation forces the pure-Python
one, which took 2 s for 100,000 findings).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

from reports.document.pack import Integrity
from reports.document.schema import FILE_NAME, ScanDocument

from .files import write_atomic

# A JSON "\ud800" escape from AWS decodes to a lone surrogate, which UTF-8 cannot encode;
# written back as the same escape, the file stays valid UTF-8 and reads back unchanged.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encode(chunk: str) -> bytes:
    try:
        return chunk.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", chunk).encode("utf-8")


def _indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")


# One encoder for every line: json.dumps builds a new one per call. check_circular is off
# because a finding is a tree of plain values (json.dumps' own fast path does the same).
_COMPACT = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_BATCH = 1000  # lines encoded, joined and written at once


def _write_lines(stream: IO[bytes], items: list[Any]) -> None:
    """One compact item per line, streamed in batches: 100,000 findings never become one
    string."""
    if not items:
        stream.write(b"[]")
        return
    stream.write(b"[\n    ")
    for start in range(0, len(items), _BATCH):
        if start:
            stream.write(b",\n    ")
        stream.write(_encode(",\n    ".join(map(_COMPACT, items[start:start + _BATCH]))))
    stream.write(b"\n  ]")


def write_json(document: ScanDocument, directory: Path, *,
               integrity: Integrity | None = None) -> Path:
    """Write directory/scan.json atomically. `integrity` is not written: scan.json cannot
    hold its own SHA-256 (the manifest records it)."""
    def write(stream: IO[bytes]) -> None:
        stream.write(b"{\n")
        for index, (key, value) in enumerate(document.items()):
            separator = ",\n" if index else ""
            stream.write(_encode(f"{separator}  {json.dumps(key)}: "))
            if key == "findings" and isinstance(value, list):
                _write_lines(stream, value)
            else:
                stream.write(_encode(_indented(value)))
        stream.write(b"\n}\n")

    return write_atomic(directory / FILE_NAME, write)
