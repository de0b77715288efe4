"""scan.json: the document itself, written atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .files import write_atomic

FILE_NAME = "scan.json"


def write_json(document: Mapping[str, Any], directory: Path) -> Path:
    def write(stream: IO[bytes]) -> None:
        for chunk in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(document):
            stream.write(chunk.encode("utf-8"))
        stream.write(b"\n")

    return write_atomic(directory / FILE_NAME, write)
