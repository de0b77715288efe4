"""Property: whatever the configuration file holds, loading it gives Options or one clear
ConfigError line, never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.config import Options, load_options
from scanner.errors import ConfigError

KEYS = ["regions", "exclude", "coverage_types", "finding_statuses", "workers", "page_size",
        "fail_on", "aws", "output", "log", "retry_mode", "profile", "formats", "file"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["us-east-1", "all", "eu-west-1", "ORGANIZATION", "json",
                                     "adaptive", "ACTIVE", "gaps"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner,
                    max_size=4)), max_leaves=12)
documents = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), values,
                            max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents)
def test_any_yaml_mapping_loads_or_fails_cleanly(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
        try:
            options = load_options(path, {})
        except ConfigError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(options, Options)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_loads_or_fails_cleanly(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_options(path, {})
        except ConfigError as exc:
            assert "\n" not in str(exc)
