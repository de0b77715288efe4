"""Shared fixtures: schema validation of every document a test builds or a scan writes."""

from __future__ import annotations

import pytest

from document.schema import validate


@pytest.fixture
def valid_document():
    """Assert a document is valid against the shipped JSON Schema, and return it."""

    def check(document):
        validate(document)
        return document

    return check
