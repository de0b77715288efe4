"""The one derive step: what the reports and the manifest state about a scan document, computed
once from the rest of it into its `derived` block.

The scope (population, regions), the completeness and the API calls, the SHA-256 of the
configuration, the controls the verdict is evidence for and how the document answers each
(reports.document.scope and .controls hold the rules). The run calls `derive` once, on the
final document, before the writers and the manifest; they only read `derived_of(document)`.
A scan.json read back (`--from-json`) is derived again: a document written before the block
existed gets it, and a block edited in a file is replaced, never trusted.
"""

from __future__ import annotations

from reports.document.controls import assess, verdict_controls
from reports.document.schema import Derived, ScanDocument
from reports.document.scope import completeness, configuration_sha256, scope


class NotDerivedError(ValueError):
    """A document given to a report or the manifest without going through `derive`: a defect
    of the caller, not of the document."""


def derive(document: ScanDocument) -> ScanDocument:
    """A copy of the document with `derived` computed from the rest of it (last among its
    keys); the document given is not changed. Pure: no I/O, no clock."""
    derived: Derived = {
        "scope": scope(document),
        "completeness": completeness(document),
        "configuration_sha256": configuration_sha256(document["configuration"]),
        "controls": list(document["summary"].get("controls", verdict_controls())),
        "control_answers": assess(document),
    }
    result = document.copy()
    result.pop("derived", None)
    result["derived"] = derived
    return result


def derived_of(document: ScanDocument) -> Derived:
    """The document's `derived` block, or NotDerivedError naming the step that was missed."""
    try:
        return document["derived"]
    except KeyError:
        raise NotDerivedError("the scan document has not been derived: call "
                              "reports.document.derive.derive(document) once before the "
                              "reports and the manifest") from None
