"""Where a pack's evidence came from, as manifest.json records it.

A scan of AWS, a re-render of an earlier scan.json (`--from-json`) and a scan of the demo's
simulated organization write the same reports; only the manifest tells them apart, and
`aa-scan verify` says which it is. Endpoint overrides (AWS_ENDPOINT_URL and its per-service
forms) are recorded too: a "live" scan through one did not necessarily talk to AWS.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

SourceKind = Literal["live", "re-render", "demo"]


class RenderInput(TypedDict):
    """The scan.json a re-render read."""

    sha256: str
    run_id: str | None
    bytes: int


class Source(TypedDict):
    kind: SourceKind
    # AWS_ENDPOINT_URL* variables in effect for the run: where its AWS calls went.
    endpoint_overrides: dict[str, str]
    input: NotRequired[RenderInput]  # re-render only
    demo: NotRequired[str]  # the demo's variant


def endpoint_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every AWS_ENDPOINT_URL* variable set, by name."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in sorted(environ.items()) if k.startswith("AWS_ENDPOINT_URL") and v}


def live_source(environ: Mapping[str, str] | None = None) -> Source:
    return {"kind": "live", "endpoint_overrides": endpoint_overrides(environ)}


def demo_source(variant: str, environ: Mapping[str, str] | None = None) -> Source:
    return {"kind": "demo", "endpoint_overrides": endpoint_overrides(environ), "demo": variant}


def render_source(data: bytes, run_id: str | None) -> Source:
    """A re-render of the scan.json whose bytes are `data` (its run id as it records it)."""
    return {
        "kind": "re-render",
        "endpoint_overrides": {},
        "input": {
            "sha256": hashlib.sha256(data).hexdigest(),
            "run_id": run_id,
            "bytes": len(data),
        },
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
