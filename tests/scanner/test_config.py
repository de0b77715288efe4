"""Configuration: the shipped file, validation messages, flag overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reports.formats import OutputFormat
from scanner.config import FailOn, Options, load_options
from scanner.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "regions.yaml"


def load(tmp_path: Path, text: str, **overrides) -> Options:
    path = tmp_path / "regions.yaml"
    path.write_text(text)
    return load_options(path, overrides)


def test_shipped_config_is_the_documented_defaults():
    from dataclasses import replace

    options = load_options(SHIPPED, {})
    assert replace(options, config_path=None) == Options()


def test_values_are_read(tmp_path):
    options = load(tmp_path, """
regions: [eu-west-1, us-east-1]
exclude: {us-east-1: "blocked by SCP"}
coverage_types: [organization, ORGANIZATION_UNUSED_ACCESS]
finding_statuses: [ACTIVE, ARCHIVED]
workers: 4
fail_on: public
aws: {retry_mode: standard, max_attempts: 3, read_timeout: 2.5}
output: {directory: reports, formats: json}
log: {file: null}
""")
    assert options.regions == ("eu-west-1", "us-east-1")
    assert options.exclude == {"us-east-1": "blocked by SCP"}
    assert options.coverage_types == ("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")
    assert options.finding_statuses == ("ACTIVE", "ARCHIVED")
    assert (options.workers, options.fail_on) == (4, FailOn.PUBLIC)
    assert (options.aws.retry_mode, options.aws.max_attempts, options.aws.read_timeout) == (
        "standard", 3, 2.5)
    assert options.output_root == Path("reports")
    assert options.formats == (OutputFormat.JSON,)
    assert options.log.file is None


def test_flags_override_the_file(tmp_path):
    options = load(tmp_path, "workers: 4\nregions: [eu-west-1]\n",
                   workers=9, regions="us-east-1,us-west-2", output={"formats": "html,xlsx"})
    assert options.workers == 9
    assert options.regions == ("us-east-1", "us-west-2")
    assert options.formats == (OutputFormat.HTML, OutputFormat.XLSX)


@pytest.mark.parametrize("text, fragments", [
    ("regions: [us-east-1\n", ["regions.yaml:2:", "not valid YAML"]),
    ("workres: 4\n", ["regions.yaml:1", "workres", "did you mean 'workers'"]),
    ("aws:\n  retry_mod: standard\n", ["regions.yaml:2", "aws.retry_mod",
                                       "did you mean 'aws.retry_mode'"]),
    ("workers: many\n", ["workers", "whole number", "'many'"]),
    ("workers: true\n", ["workers", "whole number"]),
    ("regions: [us-east-1, eu_west-1]\n", ["unknown region 'eu_west-1'",
                                           "did you mean 'eu-west-1'"]),
    ("exclude: {EU-WEST: x}\n", ["regions.yaml:1", "exclude.eu-west", "unknown region"]),
    ("coverage_types: [ORGANISATION]\n", ["coverage_types", "'ORGANISATION'",
                                          "did you mean 'ORGANIZATION'"]),
    ("fail_on: always\n", ["fail_on", "'always'"]),
    ("output: {formats: [pdf]}\n", ["output.formats", "'pdf'"]),
    ("aws: {role_arn: 'arn:aws:iam::12:role/x'}\n", ["aws.role_arn", "expected a role ARN"]),
    ("- just\n- a list\n", ["must be a mapping"]),
    ("regions: [us-east-1]\nexclude: [us-east-1]\n", ["leave nothing to scan"]),
])
def test_bad_configuration_is_one_clear_line(tmp_path, text, fragments):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_options(tmp_path / "nope.yaml", {})


def test_empty_file_means_defaults(tmp_path):
    from dataclasses import replace

    assert replace(load(tmp_path, ""), config_path=None) == Options()


def test_organization_external_access_is_always_the_primary_required_type(tmp_path):
    options = load(tmp_path, "coverage_types: [ORGANIZATION_UNUSED_ACCESS]\n")
    assert options.coverage_types == ("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")
    options = load(tmp_path, "coverage_types: [ORGANIZATION_UNUSED_ACCESS, ORGANIZATION]\n")
    assert options.coverage_types == ("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")
    with pytest.raises(ConfigError, match="'ACCOUNT'"):
        load(tmp_path, "coverage_types: [ACCOUNT]\n")


def test_a_region_newer_than_botocore_is_accepted_until_discovery_says_otherwise(tmp_path):
    from scanner.config import verify_regions

    options = load(tmp_path, "regions: [us-east-1, xx-future-1]\nexclude: [eu-wset-1]\n")
    assert options.regions == ("us-east-1", "xx-future-1")
    assert set(options.unverified_regions) == {"xx-future-1", "eu-wset-1"}
    assert "regions.yaml:2: exclude.eu-wset-1" in options.unverified_regions["eu-wset-1"]
    verify_regions(options, None)  # botocore's own list: nothing to check against
    with pytest.raises(ConfigError) as caught:
        verify_regions(options, frozenset({"us-east-1", "xx-future-1", "eu-west-1"}))
    message = str(caught.value)
    assert "regions.yaml:2: exclude.eu-wset-1" in message
    assert "did you mean 'eu-west-1'" in message and "\n" not in message
    verify_regions(replace(options, unverified_regions={"xx-future-1": "regions"}),
                   frozenset({"us-east-1", "xx-future-1"}))
