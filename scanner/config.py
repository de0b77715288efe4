"""Load config/regions.yaml and the command-line overrides into one frozen `Options` object.

Everything is validated here, once: unknown keys (with the closest valid one suggested),
wrong types, unknown region names, an include/exclude that leaves nothing to scan. Every
problem is a `ConfigError` with a one-line message that names the file, line and key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reports.formats import OutputFormat

from .errors import ConfigError
from .model import REGION_NAME, AnalyzerType

DEFAULT_CONFIG_PATH = Path("config") / "regions.yaml"
FINDING_STATUSES = ("ACTIVE", "ARCHIVED", "RESOLVED")
RETRY_MODES = ("standard", "adaptive", "legacy")


class FailOn(StrEnum):
    """What makes a complete scan exit 1. Each level includes gaps, except NEVER."""

    GAPS = "gaps"
    PUBLIC = "public"
    FINDINGS = "findings"
    NEVER = "never"


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    role_arn: str | None = None
    role_session_name: str = "aa-scan"
    external_id: str | None = None
    home_region: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 8
    # Requests per second per region: "auto" learns it from throttles (starting at 10),
    # a number fixes it, None ("off") sends as fast as the workers can.
    rate_limit: float | str | None = "auto"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class LogOptions:
    file: Path | None = Path("output") / "aa-scan.log"
    max_bytes: int = 10 * 1024 * 1024
    backups: int = 5
    level: str = "INFO"


@dataclass(frozen=True)
class Options:
    """Everything that shapes a run, validated."""

    regions: tuple[str, ...] | None = None  # None: every enabled region
    exclude: Mapping[str, str] = field(default_factory=dict)  # region -> why
    coverage_types: tuple[str, ...] = (AnalyzerType.ORGANIZATION.value,)
    finding_statuses: tuple[str, ...] = ("ACTIVE",)
    workers: int = 32
    page_size: int = 100
    aws: AwsOptions = field(default_factory=AwsOptions)
    output_root: Path = Path("output")
    output_dir: Path | None = None  # exact folder (from --output-dir); else a new one per run
    formats: tuple[OutputFormat, ...] = (OutputFormat.JSON, OutputFormat.HTML, OutputFormat.XLSX)
    fail_on: FailOn = FailOn.GAPS
    log: LogOptions = field(default_factory=LogOptions)
    coverage_only: bool = False
    demo: bool = False
    debug: bool = False
    from_json: Path | None = None
    config_path: Path | None = None
    # Region names botocore does not know (newer than it, or typos): where each was given.
    # Region discovery decides: a name it lists is accepted, any other is an error.
    unverified_regions: Mapping[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The settings that shaped the result, as recorded in scan.json and the reports."""
        return {
            "config_file": str(self.config_path) if self.config_path else None,
            "regions": list(self.regions) if self.regions is not None else "all enabled",
            "exclude": dict(self.exclude),
            "coverage_types": list(self.coverage_types),
            "finding_statuses": list(self.finding_statuses),
            "coverage_only": self.coverage_only,
            "workers": self.workers,
            "retry_mode": self.aws.retry_mode,
            "rate_limit": self.aws.rate_limit,
            "max_attempts": self.aws.max_attempts,
            "fail_on": self.fail_on.value,
            "role_arn": self.aws.role_arn,
            "profile": self.aws.profile,
        }


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows for Access Analyzer, in every partition."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("accessanalyzer", partition)
    )


_SCHEMA: dict[str, Any] = {
    "regions": None,
    "exclude": None,
    "coverage_types": None,
    "finding_statuses": None,
    "workers": None,
    "page_size": None,
    "fail_on": None,
    "aws": {"profile": None, "role_arn": None, "role_session_name": None, "external_id": None,
            "home_region": None, "retry_mode": None, "max_attempts": None, "rate_limit": None,
            "connect_timeout": None, "read_timeout": None},
    "output": {"directory": None, "formats": None},
    "log": {"file": None, "max_bytes": None, "backups": None, "level": None},
}


class _Reader:
    def __init__(self, label: str, marks: Mapping[tuple[str, ...], str]) -> None:
        self.label = label
        self.marks = marks

    def fail(self, path: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {message}")

    def where(self, path: tuple[str, ...]) -> str:
        key = ".".join(path) if path else "top level"
        # A list item has no mark of its own: the line of the nearest key that has one.
        mark = next((self.marks[path[:n]] for n in range(len(path), 0, -1)
                     if path[:n] in self.marks), "")
        return f"{self.label}{mark}: {key}"

    def check_keys(self, doc: Mapping[str, Any], schema: Mapping[str, Any],
                   path: tuple[str, ...]) -> None:
        for key, value in doc.items():
            if key not in schema:
                close = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5)
                hint = f"; did you mean {'.'.join((*path, close[0]))!r}?" if close else ""
                raise self.fail((*path, str(key)), f"unknown key{hint} "
                                f"(valid: {', '.join(schema)})")
            if isinstance(schema[key], dict):
                if not isinstance(value, Mapping):
                    raise self.fail((*path, key), f"expected a mapping, got "
                                    f"{_kind(value)}")
                self.check_keys(value, schema[key], (*path, key))

    def integer(self, path: tuple[str, ...], value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"expected a whole number from {low} to {high}, got "
                            f"{value!r}")
        return value

    def number(self, path: tuple[str, ...], value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                low <= value <= high):
            raise self.fail(path, f"expected a number from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def string(self, path: tuple[str, ...], value: Any, allow_none: bool = True) -> str | None:
        if value is None and allow_none:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def choices(self, path: tuple[str, ...], value: Any, options: tuple[str, ...],
                upper: bool = False) -> tuple[str, ...]:
        items = _as_list(value)
        if items is None or not items:
            raise self.fail(path, f"expected a non-empty list of {', '.join(options)}")
        out = []
        for item in items:
            text = str(item).strip()
            text = text.upper() if upper else text.lower()
            if text not in options:
                raise self.fail(path, _unknown(text, options))
            if text not in out:
                out.append(text)
        return tuple(out)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _as_list(value: Any) -> list[str] | None:
    """A list of names from a YAML list or a comma-separated string; None if neither."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    return None


def _unknown(value: str, options: tuple[str, ...] | frozenset[str], what: str = "value"
             ) -> str:
    close = difflib.get_close_matches(value, sorted(options), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(sorted(options)) if len(options) <= 8 else f"{len(options)} known"
    return f"unknown {what} {value!r}{hint} (valid: {shown})"


def _marks(node: yaml.Node, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Line numbers of every key, so errors can point into the file."""
    marks: dict[tuple[str, ...], str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            marks[key] = f":{key_node.start_mark.line + 1}"
            marks.update(_marks(value_node, key))
    return marks


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if document is None:
        return {}, {}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys, got "
                          f"{_kind(document)}")
    return dict(document), _marks(node) if node is not None else {}


def options_from_document(document: Mapping[str, Any], label: str = "configuration",
                          marks: Mapping[tuple[str, ...], str] | None = None,
                          base: Options | None = None) -> Options:
    """Validate a configuration mapping (parsed YAML) into Options."""
    reader = _Reader(label, marks or {})
    reader.check_keys(document, _SCHEMA, ())
    options = base or Options()
    aws = options.aws
    log = options.log
    updates: dict[str, Any] = {}
    regions_known = known_regions()
    unverified = dict(options.unverified_regions)

    if "regions" in document:
        value = document["regions"]
        if value in (None, "all", "ALL", "all-enabled"):
            updates["regions"] = None
        else:
            items = _as_list(value)
            if not items:
                raise reader.fail(("regions",), "expected 'all' or a list of region names")
            updates["regions"] = tuple(_region(reader, ("regions",), r, regions_known,
                                                          unverified)
                                       for r in dict.fromkeys(str(i).strip() for i in items))
    if "exclude" in document:
        value = document["exclude"] or {}
        if isinstance(value, (list, str)):
            names = _as_list(value)
            if names is None:
                raise reader.fail(("exclude",), "expected a list of region names or a mapping "
                                  "of region: reason")
            value = dict.fromkeys(names, "excluded by configuration")
        if not isinstance(value, Mapping):
            raise reader.fail(("exclude",), "expected a mapping of region: reason")
        exclude = {}
        for region, why in value.items():
            name = _region(reader, ("exclude", str(region)), str(region), regions_known,
                           unverified)
            if why is not None and not isinstance(why, (str, int, float)):
                raise reader.fail(("exclude", name), "the reason must be text")
            exclude[name] = str(why).strip() if why else "excluded by configuration"
        updates["exclude"] = exclude
    if "coverage_types" in document:
        organization_types = tuple(t.value for t in AnalyzerType
                                   if t.value.startswith("ORGANIZATION"))
        chosen = reader.choices(("coverage_types",), document["coverage_types"],
                                organization_types, upper=True)
        # External access with the organization as zone of trust is what coverage means;
        # other types can only be required in addition to it, never instead of it.
        primary = AnalyzerType.ORGANIZATION.value
        updates["coverage_types"] = (primary, *(t for t in chosen if t != primary))
    if "finding_statuses" in document:
        updates["finding_statuses"] = reader.choices(
            ("finding_statuses",), document["finding_statuses"], FINDING_STATUSES, upper=True)
    if "workers" in document:
        updates["workers"] = reader.integer(("workers",), document["workers"], 1, 256)
    if "page_size" in document:
        updates["page_size"] = reader.integer(("page_size",), document["page_size"], 1, 1000)
    if "fail_on" in document:
        updates["fail_on"] = FailOn(reader.choices(("fail_on",), document["fail_on"],
                                                   tuple(f.value for f in FailOn))[0])

    aws_doc = document.get("aws") or {}
    aws_updates: dict[str, Any] = {}
    for key in ("profile", "role_arn", "role_session_name", "external_id"):
        if key in aws_doc:
            aws_updates[key] = reader.string(("aws", key), aws_doc[key])
    if aws_updates.get("role_arn"):
        _check_role_arn(reader, ("aws", "role_arn"), aws_updates["role_arn"])
    if "home_region" in aws_doc and aws_doc["home_region"] is not None:
        aws_updates["home_region"] = _region(reader, ("aws", "home_region"),
                                             str(aws_doc["home_region"]), regions_known, None)
    if "retry_mode" in aws_doc:
        aws_updates["retry_mode"] = reader.choices(("aws", "retry_mode"), aws_doc["retry_mode"],
                                                   RETRY_MODES)[0]
    if "rate_limit" in aws_doc:
        value = aws_doc["rate_limit"]
        if value is None or value is False or value == "off":
            aws_updates["rate_limit"] = None
        elif value == "auto":
            aws_updates["rate_limit"] = "auto"
        else:
            aws_updates["rate_limit"] = reader.number(("aws", "rate_limit"), value, 0.1, 10000)
    if "max_attempts" in aws_doc:
        aws_updates["max_attempts"] = reader.integer(("aws", "max_attempts"),
                                                     aws_doc["max_attempts"], 1, 50)
    for key in ("connect_timeout", "read_timeout"):
        if key in aws_doc:
            aws_updates[key] = reader.number(("aws", key), aws_doc[key], 0.1, 600)

    output_doc = document.get("output") or {}
    if "directory" in output_doc:
        directory = reader.string(("output", "directory"), output_doc["directory"], False)
        updates["output_root"] = Path(str(directory))
    if "formats" in output_doc:
        updates["formats"] = tuple(OutputFormat(f) for f in reader.choices(
            ("output", "formats"), output_doc["formats"], tuple(f.value for f in OutputFormat)))

    log_doc = document.get("log") or {}
    log_updates: dict[str, Any] = {}
    if "file" in log_doc:
        value = log_doc["file"]
        log_updates["file"] = None if value in (None, False, "") else Path(
            str(reader.string(("log", "file"), value)))
    if "max_bytes" in log_doc:
        log_updates["max_bytes"] = reader.integer(("log", "max_bytes"), log_doc["max_bytes"],
                                                  1024, 10**10)
    if "backups" in log_doc:
        log_updates["backups"] = reader.integer(("log", "backups"), log_doc["backups"], 0, 1000)
    if "level" in log_doc:
        log_updates["level"] = reader.choices(("log", "level"), log_doc["level"],
                                              ("DEBUG", "INFO", "WARNING", "ERROR"),
                                              upper=True)[0]

    return replace(options, **updates, aws=replace(aws, **aws_updates),
                   log=replace(log, **log_updates), unverified_regions=unverified)


def _region(reader: _Reader, path: tuple[str, ...], name: str, known: frozenset[str],
            unverified: dict[str, str] | None) -> str:
    """A region name: one botocore knows, or (where `unverified` collects them) one shaped
    like a region, which region discovery must then list (AWS launches regions after the
    installed botocore was released)."""
    name = name.strip().lower()
    if name in known:
        return name
    if unverified is not None and REGION_NAME.match(name):
        unverified[name] = reader.where(path)
        return name
    raise reader.fail(path, _unknown(name, known, "region"))


def verify_regions(options: Options, listed: frozenset[str] | None) -> None:
    """After discovery: a name botocore does not know must be one discovery listed.

    `listed` is None when discovery fell back to botocore's own list: nothing to check
    against, so such a name is tried (or excluded) as given.
    """
    if listed is None:
        return
    for name, where in options.unverified_regions.items():
        if name not in listed:
            raise ConfigError(f"{where}: {_unknown(name, known_regions() | listed, 'region')} "
                              "(neither botocore nor the account's region list knows it)")


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _check_role_arn(reader: _Reader, path: tuple[str, ...], value: str) -> None:
    if not _ROLE_ARN.match(value):
        raise reader.fail(path, f"{value!r} is not a role ARN "
                          "(arn:aws:iam::123456789012:role/NAME)")


def check_selection(options: Options) -> None:
    """Include and exclude must leave something to scan (checked before any AWS call)."""
    if options.regions is not None:
        left = [r for r in options.regions if r not in options.exclude]
        if not left:
            raise ConfigError(
                f"{options.config_path or 'configuration'}: regions and exclude leave nothing "
                f"to scan (regions: {', '.join(options.regions)}; excluded: "
                f"{', '.join(options.exclude)})")


def load_options(config_path: Path | None, overrides: Mapping[str, Any],
                 base_document: Mapping[str, Any] | None = None) -> Options:
    """The configuration file (explicit, or config/regions.yaml if present) plus CLI overrides.

    `base_document` (the demo's settings) applies over the file; the flags apply over both.

    `overrides` uses the file's own keys (e.g. {"regions": [...], "output": {...}}), so a
    flag is validated exactly like the key it overrides.
    """
    explicit = config_path is not None
    path = config_path or DEFAULT_CONFIG_PATH
    base = Options()
    if explicit or path.exists():
        document, marks = read_config_file(path)
        base = options_from_document(document, str(path), marks, replace(base,
                                                                         config_path=path))
    if base_document:
        base = options_from_document(base_document, "built-in settings", {}, base)
    options = options_from_document(_clean(overrides), "command line", {}, base)
    check_selection(options)
    return options


def _clean(overrides: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            nested = _clean(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out
