"""Load config/regions.yaml and the command-line flags into one frozen `Options` object.

What a configuration may hold is declared in schema/config.schema.json and checked by
jsonschema; this module turns its findings into one-line messages that name the file, the
line and the key, and suggest the closest valid key or value. The file, the demo's
built-in settings and the flags are layers of the same shape, each validated on its own (so
a message names where the bad value came from), then merged, flags last. Region names are the
one rule the schema cannot hold: a name botocore knows, or one shaped like a region, which
region discovery must then list.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from reports.document.exceptions import ANY_REGION, TYPED_CODES, ExceptionSpec, spec_key
from reports.formats import OutputFormat

from .errors import ConfigError
from .model import REGION_NAME, AnalyzerType

COMMAND_LINE = "command line"  # where a flag's setting came from, in messages

DEFAULT_CONFIG_PATH = Path("config") / "regions.yaml"


class FailOn(StrEnum):
    """What makes a complete scan exit 1. GAPS, PUBLIC and FINDINGS each include gaps; the
    NEW_ levels fail only on a regression since the baseline (history.diff.regressions)."""

    GAPS = "gaps"
    PUBLIC = "public"
    FINDINGS = "findings"
    NEW_GAPS = "new-gaps"
    NEW_PUBLIC = "new-public"
    NEVER = "never"


@dataclass(frozen=True)
class AwsOptions:
    """How aa-scan reaches AWS: credentials and roles, retries, rate and timeouts."""

    profile: str | None = None
    role_arn: str | None = None
    # Each role session aa-scan opens is named <role_session_name>-<run id> and, unless
    # source_identity is false, carries SourceIdentity aa-scan-<run id>: CloudTrail ties
    # every call to the run (run_id is set by the CLI when the run starts).
    role_session_name: str = "aa-scan"
    source_identity: bool = False
    run_id: str | None = None
    external_id: str | None = None
    # A role of this name in the management account and the delegated administrator, so one
    # run examines the organization analyzers of both (scanner.accounts).
    admin_role_name: str | None = None
    # The member view (IAM.28, per account): "all", the account ids (a list or "id,id"),
    # or None (no member view); each account is examined through member_role_name.
    member_accounts: str | list[str] | None = None
    member_role_name: str | None = None
    home_region: str | None = None

    def member_account_ids(self) -> tuple[str, ...] | None:
        """The accounts the member view examines: None for every account ("all")."""
        value = self.member_accounts
        if value is None or value == "all":
            return None
        ids = value.split(",") if isinstance(value, str) else value
        return tuple(dict.fromkeys(i.strip() for i in ids))

    retry_mode: str = "standard"
    max_attempts: int = 8
    # Requests per second per region: "auto" learns it from throttles (starting at 10),
    # a number fixes it, None ("off") sends as fast as the workers can.
    rate_limit: float | str | None = "auto"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class LogOptions:
    """The rotating log file (None: none) and the level of aa-scan's logger."""

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
    coverage_only: bool = False
    unused_findings: bool = False  # unused-access findings too, not only their statistics
    # Concurrent API calls at most (threads); None: as many as the regions' rates and round
    # trips use (scanner.run: AUTO_WORKERS at most).
    workers: int | None = None
    page_size: int = 100
    aws: AwsOptions = field(default_factory=AwsOptions)
    output_root: Path = Path("output")
    output_dir: Path | None = None  # exact folder (--output-dir); else a new one per run
    formats: tuple[OutputFormat, ...] = (OutputFormat.JSON, OutputFormat.HTML, OutputFormat.XLSX)
    fail_on: FailOn = FailOn.GAPS
    log: LogOptions = field(default_factory=LogOptions)
    history: Path | None = Path("output") / "history.sqlite"  # None: no history
    # --history s3://BUCKET/KEY (scanner.history_s3): the history lives in S3; `history` is
    # then None until the run has downloaded it.
    history_s3: str | None = None
    history_keep: int | None = None  # runs kept per organization and account; None: all
    baseline: Path | None = None  # a scan.json to compare with instead of the history's choice
    notify_sns: str | None = None  # an SNS topic to tell when something changed (opt-in)
    security_hub: bool = False  # import the gaps into Security Hub (opt-in, scanner.securityhub)
    # The evidence pack's opt-in writes: sign manifest.json with this KMS key, copy the run
    # folder to this s3://bucket/prefix/ (SSE-KMS with upload_kms_key, else SSE-S3).
    sign_kms_key: str | None = None
    upload: str | None = None
    upload_kms_key: str | None = None
    upload_bucket_owner: str | None = None  # None: the scanning account
    config_path: Path | None = None
    # Accepted risk: the exceptions of every layer (the file, the demo's settings and
    # --exceptions FILE), in order; and that file with the SHA-256 of its bytes.
    exceptions: tuple[ExceptionSpec, ...] = ()
    exceptions_file: Path | None = None
    exceptions_sha256: str | None = None
    # Region names botocore does not know (newer than it, or typos): where each was given.
    # Region discovery decides: a name it lists is accepted, any other is an error.
    unverified_regions: Mapping[str, str] = field(default_factory=dict)
    # What the command line alone says (no configuration key; set by the CLI after loading):
    # the demo's variant (a live scan of the simulated organization), the scan.json to
    # re-render instead of scanning, whether that re-render is recorded in the history
    # (--history given with --from-json: how runs from before it are imported), and the
    # command line as the manifest records it (secrets redacted).
    demo: str | None = None
    from_json: Path | None = None
    record_rerender: bool = False
    command_line: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The effective configuration: the settings that shaped the result and the run, as
        recorded in scan.json, the reports and the manifest (credentials never are)."""
        return {
            "config_file": str(self.config_path) if self.config_path else None,
            "regions": list(self.regions) if self.regions is not None else "all enabled",
            "exclude": dict(self.exclude),
            "coverage_types": list(self.coverage_types),
            "finding_statuses": list(self.finding_statuses),
            "coverage_only": self.coverage_only,
            "unused_findings": self.unused_findings,
            "workers": self.workers if self.workers is not None else "auto",
            "retry_mode": self.aws.retry_mode,
            "rate_limit": self.aws.rate_limit,
            "max_attempts": self.aws.max_attempts,
            "fail_on": self.fail_on.value,
            "history": self.history_s3 or (str(self.history) if self.history else None),
            "baseline": str(self.baseline) if self.baseline else None,
            "notify_sns": self.notify_sns,
            "security_hub": self.security_hub,
            "role_arn": self.aws.role_arn,
            "admin_role_name": self.aws.admin_role_name,
            "member_accounts": self.aws.member_accounts,
            "member_role_name": self.aws.member_role_name,
            "profile": self.aws.profile,
            "home_region": self.aws.home_region,
            "page_size": self.page_size,
            "connect_timeout": self.aws.connect_timeout,
            "read_timeout": self.aws.read_timeout,
            "formats": [f.value for f in self.formats],
            "history_keep": self.history_keep,
            "sign_kms_key": self.sign_kms_key,
            "upload": self.upload,
            "upload_kms_key": self.upload_kms_key,
            "upload_bucket_owner": self.upload_bucket_owner,
            "source_identity": self.aws.source_identity,
            # The exceptions the scan was judged with, and the file of the risk team (its
            # SHA-256: the manifest hashes this configuration, so the pack names the file).
            "exceptions": [dict(e) for e in self.exceptions],
            "exceptions_file": ({"path": str(self.exceptions_file),
                                 "sha256": self.exceptions_sha256}
                                if self.exceptions_file else None),
        }


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore knows for Access Analyzer, in every partition (computed once)."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("accessanalyzer", partition)
    )


@cache
def config_schema() -> dict[str, Any]:
    """schema/config.schema.json: what a configuration may hold (read once)."""
    import json

    text = (resources.files("scanner") / "schema" / "config.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(config_schema())


# -- reading a file ---------------------------------------------------------------------------

Marks = Mapping[tuple[str, ...], str]
# A configuration or an exceptions file is a few kilobytes: anything past this is refused
# before it is parsed.
MAX_FILE_BYTES = 1 << 20
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _marks(node: yaml.Node, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Line numbers of every key and list item, so errors can point into the file."""
    marks: dict[tuple[str, ...], str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            marks[key] = f":{key_node.start_mark.line + 1}"
            marks.update(_marks(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = (*path, str(index))
            marks[key] = f":{item.start_mark.line + 1}"
            marks.update(_marks(item, key))
    return marks


def _line(mark: Any) -> str:
    return f":{mark.line + 1}" if mark is not None else ""


def _check_structure(path: Path, text: str) -> yaml.Node | None:
    """The file's node tree, refused when it holds what a configuration never needs and
    an attacker would use: an alias (`*name`, which can make a small file expand without
    bound), or a key given twice in one mapping (YAML keeps the last one silently, so an
    `expires:` further down would win over the one a reviewer read)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(f"{path}{_line(event.start_mark)}: YAML aliases (*{event.anchor})"
                              " are not accepted in a configuration: write the value out")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    pending = [node] if node is not None else []
    while pending:
        current = pending.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                name = str(key_node.value)
                line = key_node.start_mark.line + 1
                if name in seen:
                    raise ConfigError(f"{path}:{line}: {name!r} is given twice in one mapping "
                                      f"(first on line {seen[name]}); YAML would keep only "
                                      "the last")
                seen[name] = line
                pending.append(value_node)
        elif isinstance(current, yaml.SequenceNode):
            pending.extend(current.value)
        elif isinstance(current, yaml.ScalarNode) and current.tag == _TIMESTAMP_TAG:
            try:
                yaml.SafeLoader(text).construct_yaml_timestamp(current)
            except (ValueError, OverflowError) as exc:
                raise ConfigError(f"{path}{_line(current.start_mark)}: {current.value!r} is "
                                  f"not a date ({exc})") from None
    return node


@dataclass(frozen=True)
class ConfigFile:
    """A configuration (or exceptions) file as read: its settings, the line of each key and
    list item, and the SHA-256 of its bytes (the manifest records it)."""

    path: Path
    document: dict[str, Any]
    marks: Marks
    sha256: str


def read_yaml_file(path: Path, what: str = "configuration file") -> ConfigFile:
    """A YAML file of settings, or a ConfigError that names the file (and the line, for YAML
    that does not parse or holds an alias, a duplicate key or a date that is no date)."""
    import hashlib

    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: the {what} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: not UTF-8 ({exc.reason} at byte "
                          f"{exc.start})") from None
    try:
        node = _check_structure(path, text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = str(getattr(exc, "context", None) or "")
        if any("alias" in t or "anchor" in t for t in (str(problem), context)):
            problem = f"{problem} (a value that starts with * or & must be quoted: \"*\")"
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    digest = hashlib.sha256(data).hexdigest()
    if document is None:
        return ConfigFile(path, {}, {}, digest)
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: the {what} must be a mapping of keys, got "
                          f"{_kind(document)}")
    return ConfigFile(path, dict(document), _marks(node) if node is not None else {}, digest)


def read_config_file(path: Path) -> tuple[dict[str, Any], Marks]:
    """A YAML configuration file and the line of each of its keys (see read_yaml_file)."""
    found = read_yaml_file(path)
    return found.document, found.marks


# -- validating one layer ---------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,\s]+")


def _shape(value: Any, schema: Mapping[str, Any]) -> Any:
    """Apply the schema's x-list, x-case and x-date annotations before validation (into
    mappings, and into the items of a list of mappings)."""
    schema = _resolve(schema)
    if isinstance(value, Mapping) and "properties" in schema:
        properties = schema["properties"]
        return {k: _shape(v, properties[k]) if k in properties else v for k, v in value.items()}
    if isinstance(value, list):
        items = next((_resolve(b).get("items") for b in schema.get("anyOf", ())
                      if _resolve(b).get("type") == "array"), None)
        if isinstance(items, Mapping) and "properties" in _resolve(items):
            return [_shape(v, items) for v in value]
    # An unquoted YAML date (2027-03-31) is a date; a date with a time is left as it is (and
    # refused: an exception expires on a day).
    if schema.get("x-date") and isinstance(value, dt.date) and not isinstance(
            value, dt.datetime):
        return value.isoformat()
    if schema.get("x-list") and isinstance(value, str) and value not in schema.get(
            "x-keywords", ()):
        value = [part for part in _SEPARATORS.split(value) if part]
    case = schema.get("x-case")
    if case:
        change = str.upper if case == "upper" else str.lower
        if isinstance(value, str):
            value = change(value.strip())
        elif isinstance(value, list):
            value = [change(v.strip()) if isinstance(v, str) else v for v in value]
        elif isinstance(value, Mapping):
            value = {change(str(k).strip()): v for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dt.date):
        return f"{value.isoformat(sep=' ') if isinstance(value, dt.datetime) else value}"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:60]}... ({len(str(value))} characters)"


def _unknown(value: str, options: Any, what: str = "value") -> str:
    names = sorted(str(o) for o in options)
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(names) if len(names) <= 8 else f"{len(names)} known"
    return f"unknown {what} {value!r}{hint} (valid: {shown})"


def _schema_at(path: tuple[str | int, ...]) -> Mapping[str, Any]:
    """The schema of the value at an instance path: through properties, list items and
    mapping values, and into the alternative (anyOf) of the matching shape."""
    node: Mapping[str, Any] = _resolve(config_schema())
    for part in path:
        wanted = "array" if isinstance(part, int) else "object"
        for branch in node.get("anyOf", ()):
            branch = _resolve(branch)
            if branch.get("type") == wanted:
                node = {**branch, **{k: v for k, v in node.items() if k != "anyOf"}}
                break
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties") or {}
        node = _resolve(node)
    return node


def _resolve(node: Any) -> Mapping[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        merged = {**_resolve(config_schema()["$defs"][ref.rsplit("/", 1)[1]]), **node}
        merged.pop("$ref")
        return merged
    return node


def _expected(schema: Mapping[str, Any]) -> str:
    """What a value should have been, in words: declared (x-expected) or from its type."""
    if "x-expected" in schema:
        return str(schema["x-expected"])
    kind, low, high = schema.get("type"), schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        return f"a whole number from {low} to {high}"
    if kind == "number":
        return f"a number from {low:g} to {high:g}"
    return {"boolean": "true or false", "object": "a mapping", "array": "a list",
            "string": "text"}.get(str(kind), "another value")


class _Layer:
    """One source of settings (the file, built-in settings, the command line)."""

    def __init__(self, label: str, marks: Marks) -> None:
        self.label = label
        self.marks = marks

    def line(self, path: tuple[str | int, ...]) -> str:
        """The layer and the line of a value: "regions.yaml:12" (the label alone when the
        layer has no lines, or the nearest enclosing value that has one)."""
        keys = tuple(str(p) for p in path)
        mark = next((self.marks[keys[:n]] for n in range(len(keys), 0, -1)
                     if keys[:n] in self.marks), "")
        return f"{self.label}{mark}"

    def where(self, path: tuple[str | int, ...]) -> str:
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return f"{self.line(path)}: {key or 'top level'}"

    def fail(self, path: tuple[str | int, ...], message: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {message}")

    def validate(self, document: Mapping[str, Any]) -> dict[str, Any]:
        import jsonschema

        shaped: dict[str, Any] = _shape(document, config_schema())
        error = jsonschema.exceptions.best_match(_validator().iter_errors(shaped))
        if error is not None:
            raise self._explain(error)
        return shaped

    def _explain(self, error: Any) -> ConfigError:
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = _schema_at(path).get("properties", {})
            extra = next(k for k in error.instance if k not in allowed)
            close = difflib.get_close_matches(str(extra), list(allowed), n=1, cutoff=0.5)
            hint = (f"; did you mean {'.'.join(str(p) for p in (*path, close[0]))!r}?"
                    if close else "")
            return self.fail((*path, str(extra)),
                             f"unknown key{hint} (valid: {', '.join(allowed)})")
        schema = _schema_at(path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            missing = next(k for k in error.validator_value if k not in error.instance)
            return self.fail(path, f"{missing} is missing (each needs "
                             f"{', '.join(error.validator_value)})")
        if error.validator == "enum" and isinstance(error.instance, str):
            while path and isinstance(path[-1], int):  # a list's value is named by its list
                path = path[:-1]
            return self.fail(path, _unknown(error.instance, error.validator_value))
        if error.validator == "minItems":
            choices = schema.get("items", {}).get("enum")
            valid = f" (valid: {', '.join(choices)})" if choices else ""
            return self.fail(path, f"expected at least one value{valid}, got an empty list")
        if error.validator == "type" and "properties" in schema:
            return self.fail(path, f"expected a mapping, got {_kind(error.instance)}")
        # A list item that is wrong is named by its list, with what the list expects.
        if path and isinstance(path[-1], int) and "x-expected" not in schema:
            parent = _schema_at(path[:-1])
            return self.fail(path[:-1], f"expected {_expected(parent)}, got "
                             f"{_kind(error.instance)}")
        return self.fail(path, f"expected {_expected(schema)}, got {_kind(error.instance)}")


# -- from validated layers to Options ---------------------------------------------------------


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """`layer` over `base`: sections merge key by key, any other value replaces."""
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key in (
                "aws", "output", "log", "history", "notify", "evidence"):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _check_regions(layer: _Layer, document: Mapping[str, Any],
                   unverified: dict[str, str]) -> None:
    """Every region name of a layer: one botocore knows, or shaped like a newer region."""
    regions = document.get("regions")
    if isinstance(regions, list):
        for i, name in enumerate(regions):
            _region(layer, ("regions", i), name, unverified)
    exclude = document.get("exclude")
    for name in (exclude if isinstance(exclude, list) else list(exclude or {})):
        _region(layer, ("exclude", name), name, unverified)
    home = (document.get("aws") or {}).get("home_region")
    if home is not None:
        _region(layer, ("aws", "home_region"), home, None)


def _region(layer: _Layer, path: tuple[str | int, ...], name: str,
            unverified: dict[str, str] | None) -> None:
    if name in known_regions():
        return
    if unverified is not None and REGION_NAME.match(name):
        unverified[name] = layer.where(path)
        return
    raise layer.fail(path, _unknown(name, known_regions(), "region"))


def _options(document: Mapping[str, Any], config_path: Path | None,
             unverified: Mapping[str, str]) -> Options:
    """Options from a merged, validated document (defaults for what it does not say)."""
    defaults = Options()
    aws_doc, output_doc, log_doc, history_doc, notify_doc, evidence_doc = (
        document.get(k) or {} for k in ("aws", "output", "log", "history", "notify",
                                        "evidence"))
    regions = document.get("regions")
    exclude = document.get("exclude") or {}
    if isinstance(exclude, list):
        exclude = dict.fromkeys(exclude, "excluded by configuration")
    coverage = document.get("coverage_types", defaults.coverage_types)
    # External access with the organization as zone of trust is what coverage means; other
    # types can only be required in addition to it, never instead of it.
    primary = AnalyzerType.ORGANIZATION.value
    rate_limit = aws_doc.get("rate_limit", "auto")
    log_file = log_doc.get("file", defaults.log.file)
    run_directory = output_doc.get("run_directory")
    return Options(
        regions=(tuple(dict.fromkeys(regions)) if isinstance(regions, list) else None),
        exclude={name: str(why).strip() if why not in (None, "") else "excluded by "
                 "configuration" for name, why in exclude.items()},
        coverage_types=(primary, *dict.fromkeys(t for t in coverage if t != primary)),
        finding_statuses=tuple(dict.fromkeys(document.get("finding_statuses",
                                                          defaults.finding_statuses))),
        coverage_only=document.get("coverage_only", defaults.coverage_only),
        unused_findings=(document.get("unused_access") or {}).get("findings",
                                                                  defaults.unused_findings),
        workers=document.get("workers", defaults.workers),
        page_size=document.get("page_size", defaults.page_size),
        aws=replace(defaults.aws, **{k: v for k, v in aws_doc.items() if k != "rate_limit"},
                    rate_limit=(None if rate_limit in ("off", False, None)
                                else rate_limit if rate_limit == "auto" else float(rate_limit))),
        output_root=Path(output_doc.get("directory", defaults.output_root)),
        output_dir=Path(run_directory) if run_directory else None,
        formats=tuple(OutputFormat(f) for f in dict.fromkeys(
            output_doc.get("formats", [f.value for f in defaults.formats]))),
        fail_on=FailOn(document.get("fail_on", defaults.fail_on.value)),
        log=replace(defaults.log, **{k: v for k, v in log_doc.items() if k != "file"},
                    file=Path(log_file) if log_file not in (None, False, "") else None),
        history=(Path(history_doc["path"]) if history_doc.get("path")
                 and not str(history_doc["path"]).startswith("s3:") else None)
        if "path" in history_doc else defaults.history,
        history_s3=(str(history_doc["path"]) if history_doc.get("path")
                    and str(history_doc["path"]).startswith("s3:") else None),
        history_keep=history_doc.get("keep", defaults.history_keep),
        baseline=Path(document["baseline"]) if document.get("baseline") else None,
        notify_sns=notify_doc.get("sns_topic_arn"),
        security_hub=document.get("security_hub", defaults.security_hub),
        sign_kms_key=evidence_doc.get("sign_kms_key"),
        upload=evidence_doc.get("upload"),
        upload_kms_key=evidence_doc.get("upload_kms_key"),
        upload_bucket_owner=evidence_doc.get("upload_bucket_owner"),
        config_path=config_path,
        unverified_regions=dict(unverified),
    )


def check_evidence(options: Options,
                   origin: Callable[[str, str], str | None] = lambda section, key: None
                   ) -> None:
    """A setting that says nothing without another is refused rather than ignored: an
    upload key without an upload, the member view without the role it examines each account
    through, or that role named on the command line without the member view. `origin`:
    where a setting came from (the file's name, or "command line"), named in the message."""
    def where(section: str, key: str) -> str:
        return origin(section, key) or str(options.config_path or "configuration")

    if options.aws.member_accounts is not None and not options.aws.member_role_name:
        raise ConfigError(f"{where('aws', 'member_accounts')}: aws.member_accounts "
                          "(--member-accounts) needs aws.member_role_name (--member-role-name)")
    if (options.aws.member_role_name and options.aws.member_accounts is None
            and origin("aws", "member_role_name") == COMMAND_LINE):
        raise ConfigError(f"{COMMAND_LINE}: --member-role-name is used only by the member view: "
                          "add --member-accounts all (or a list of account ids), or leave it out")
    for key, flag in (("upload_kms_key", "--upload-kms-key"),
                      ("upload_bucket_owner", "--upload-bucket-owner")):
        if getattr(options, key) and not options.upload:
            raise ConfigError(f"{where('evidence', key)}: evidence.{key} "
                              f"({flag}) needs evidence.upload (--upload s3://BUCKET/PREFIX/)")


def check_selection(options: Options) -> None:
    """Include and exclude must leave something to scan (checked before any AWS call)."""
    if options.regions is not None:
        left = [r for r in options.regions if r not in options.exclude]
        if not left:
            raise ConfigError(
                f"{options.config_path or 'configuration'}: regions and exclude leave nothing "
                f"to scan (regions: {', '.join(options.regions)}; excluded: "
                f"{', '.join(options.exclude)})")


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


# Where --demo's own values come from, as errors and the exception register name it.
DEMO_SETTINGS = "the demo's own settings (simulator/demo.py)"


def load_options(config_path: Path | None, overrides: Mapping[str, Any],
                 base_document: Mapping[str, Any] | None = None,
                 exceptions_path: Path | None = None,
                 today: dt.date | None = None) -> Options:
    """The configuration file (explicit, or config/regions.yaml if present), then
    `base_document` (the demo's built-in settings), then the flags (`overrides`, in the
    file's own shape, so a flag is validated exactly like the key it overrides). The
    exceptions of every layer and of `exceptions_path` (--exceptions FILE) are added up, not
    replaced; `today` (UTC; default: now) bounds how far ahead one may expire."""
    path = config_path or DEFAULT_CONFIG_PATH
    layers: list[tuple[_Layer, Mapping[str, Any]]] = []
    used_path = None
    if config_path is not None or path.exists():
        from_file, marks = read_config_file(path)
        layers.append((_Layer(str(path), marks), from_file))
        used_path = path
    if base_document:
        # Named for what it is: an exception register citing "built-in settings" would read
        # like a default of the tool.
        layers.append((_Layer(DEMO_SETTINGS, {}), base_document))
    risk_file = None
    if exceptions_path is not None:
        risk_file = read_yaml_file(exceptions_path, "exceptions file")
        extra = sorted(k for k in risk_file.document if k != "exceptions")
        if extra:
            raise ConfigError(f"{exceptions_path}{risk_file.marks.get((extra[0],), '')}: an "
                              "exceptions file holds only `exceptions:` (a list); "
                              f"{', '.join(extra)} belong in the configuration file")
        layers.append((_Layer(str(exceptions_path), risk_file.marks), risk_file.document))
    layers.append((_Layer(COMMAND_LINE, {}), _clean(overrides)))
    merged: dict[str, Any] = {}
    unverified: dict[str, str] = {}
    specs: dict[str, ExceptionSpec] = {}
    today = today or dt.datetime.now(dt.UTC).date()
    for layer, settings in layers:
        valid = layer.validate(settings)
        _check_regions(layer, valid, unverified)
        for spec in _exceptions(layer, valid.pop("exceptions", None), unverified, today):
            twin = specs.get(spec["key"])
            if twin is not None:
                raise ConfigError(f"{spec['source']}: exceptions: the same {spec['kind']} "
                                  f"exception as {twin['source']} (both match "
                                  f"{spec['key']}): give each thing one exception")
            specs[spec["key"]] = spec
        merged = _merge(merged, valid)
    options = replace(_options(merged, used_path, unverified), exceptions=tuple(specs.values()),
                      exceptions_file=exceptions_path,
                      exceptions_sha256=risk_file.sha256 if risk_file else None)

    def origin(section: str, key: str) -> str | None:
        """The last layer that set section.key."""
        found = None
        for layer, settings in layers:
            value = settings.get(section)
            if isinstance(value, Mapping) and value.get(key) is not None:
                found = layer.label
        return found

    check_selection(options)
    check_evidence(options, origin)
    return options


# No exception is forever, nor close to it: one is reviewed at least this often.
MAX_EXCEPTION_DAYS = 3 * 365 + 1


# What separates the words of an ARN's resource part; with `*`, nothing else names anything.
_ARN_SEPARATORS = "/:-._ "
# The resource-type words that begin the resource part of the ARNs Access Analyzer reports
# (role/, key/, function:, ...): a pattern whose literal text is only these, or the start of
# one (`role*`, `r*`: `*` matches `/` too), names every resource of a type.
_ARN_TYPE_WORDS = ("role", "user", "group", "policy", "instance-profile", "key", "alias",
                   "function", "layer", "secret", "snapshot", "cluster-snapshot",
                   "repository", "file-system", "access-point", "table", "stream", "bucket",
                   "db", "cluster", "volume", "image", "vault", "topic", "queue")


def _arn_pattern_problem(pattern: str) -> str | None:
    """Why a resource pattern may not be used (None: it may): it must be an ARN whose
    resource part names something, so that no exception accepts every resource at once.
    `*` matches `/` and `:` too, so a resource part that is only separators and `*`
    (`*/*`, `*-*`) names nothing, and nor does one that is only a resource-type word
    (`role/*`, `key/*`, `function:*`): every role, key or function of the account (of every
    account, with `*` there), including those made after the exception was approved."""
    fields = pattern.split(":", 5)
    if len(fields) < 6:
        return ("expected an ARN or an ARN pattern with its six fields "
                "(arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
    resource = fields[5]
    example = "name the resource (a pattern such as arn:aws:s3:::public-site-* is accepted)"
    if not resource.replace("*", "").strip(_ARN_SEPARATORS):
        what = "only *" if not resource.replace("*", "").strip() else (
            f"only * and separators ({resource})")
        service = "every service" if "*" in fields[2] else "the service"
        return (f"its resource part is {what}: it would accept the findings of every resource "
                f"of {service}; {example}")
    words = resource.replace(":", "/").split("/")
    if len(words) > 1 and all(not w.replace("*", "").strip(_ARN_SEPARATORS)
                              for w in words[1:]):
        return (f"its resource part ({resource}) names only a resource type ({words[0]}): it "
                f"would accept the findings of every {words[0]} of "
                f"{'every account' if '*' in fields[4] else 'the account'}, those made later "
                f"included; {example}")
    literal = [w.strip(_ARN_SEPARATORS) for w in re.split(r"[/:*]", resource)]
    literal = [w for w in literal if w]
    if literal and "*" in resource and all(
            any(t.startswith(w.lower()) for t in _ARN_TYPE_WORDS) for w in literal):
        return (f"its resource part ({resource}) names no resource, only a resource type "
                f"or the start of one ({', '.join(literal)}): with * matching / and : too, it "
                f"would accept the findings of every such resource of "
                f"{'every account' if '*' in fields[4] else 'the account'}, those made later "
                f"included; {example}")
    return None


def _exceptions(layer: _Layer, items: Any, unverified: dict[str, str],
                today: dt.date) -> list[ExceptionSpec]:
    """A layer's exceptions (validated by the schema already), checked for what the schema
    cannot say: what each accepts, a real date not too far ahead, a region that exists, a
    resource pattern that names something."""
    specs: list[ExceptionSpec] = []
    for index, item in enumerate(items or ()):
        where: tuple[str | int, ...] = ("exceptions", index)
        gap = "code" in item
        finding = "finding_id" in item or "resource" in item
        if gap and finding:
            raise layer.fail(where, "an exception accepts a gap (region and code) or findings "
                             "(finding_id or resource), not both")
        if not gap and not finding:
            raise layer.fail(where, "say what it accepts: region and code for a gap, or "
                             "finding_id or resource for findings")
        if "finding_id" in item and "resource" in item:
            raise layer.fail(where, "finding_id or resource, not both (one exception each)")
        if finding and "analyzer_type" in item:
            raise layer.fail((*where, "analyzer_type"), "analyzer_type belongs to a gap "
                             "exception (region and code); a finding exception names its "
                             "finding_id or resource")
        if gap and "analyzer_type" in item and item["code"] not in TYPED_CODES:
            raise layer.fail((*where, "analyzer_type"), f"a {item['code']} gap is about no "
                             "analyzer type; analyzer_type goes with "
                             f"{', '.join(TYPED_CODES)}")
        if gap and "public" in item:
            raise layer.fail((*where, "public"), "public belongs to a finding exception "
                             "(finding_id or resource): it says the exception accepts public "
                             "findings too")
        if gap and "region" not in item:
            raise layer.fail((*where, "code"), "a gap exception needs region: a region name, "
                             "or \"*\" for every region")
        try:
            expires = dt.date.fromisoformat(item["expires"])
        except ValueError:
            raise layer.fail((*where, "expires"), f"{item['expires']!r} is not a date "
                             "(YYYY-MM-DD)") from None
        if (expires - today).days > MAX_EXCEPTION_DAYS:
            raise layer.fail((*where, "expires"), f"{expires} is more than 3 years after "
                             f"today ({today}): an exception is reviewed at least every 3 "
                             "years; give a nearer date")
        resource = item.get("resource")
        if resource is not None and (problem := _arn_pattern_problem(resource)):
            raise layer.fail((*where, "resource"), problem)
        region = item.get("region", ANY_REGION)
        if region != ANY_REGION:
            _region(layer, (*where, "region"), region, unverified)
        kind: Literal["gap", "finding"] = "gap" if gap else "finding"
        spec: ExceptionSpec = {
            "key": spec_key(kind, region, item.get("code"), item.get("finding_id"), resource,
                            item.get("analyzer_type")),
            "kind": kind, "region": region, "code": item.get("code"),
            "finding_id": item.get("finding_id"), "resource": resource,
            "reason": item["reason"].strip(), "owner": item["owner"].strip(),
            "expires": expires.isoformat(),
            "ticket": item["ticket"].strip() if item.get("ticket") else None,
            "source": layer.line(where)}
        # Recorded only when configured: a register without them reads as it always did.
        if "analyzer_type" in item:
            spec["analyzer_type"] = item["analyzer_type"]
        if "public" in item:
            spec["public"] = item["public"]
        specs.append(spec)
    return specs


def check_carried_exceptions(specs: Sequence[Mapping[str, Any]], label: str,
                             today: dt.date) -> None:
    """The exceptions a scan.json carries (a re-render applies them again), checked by the
    configuration's own rules as of `today`, the scan's start (UTC): the schema (a non-blank
    reason and owner, a code that may be accepted, a real date), an expiry at most 3 years
    ahead, a resource pattern that names something, a key that is what it matches. A
    ConfigError, one line, for the first that fails (`label` names the document)."""
    items = []
    for spec in specs:
        item = {key: spec.get(key) for key in ("reason", "owner", "expires")}
        item["region"] = spec.get("region")
        if spec.get("kind") == "gap":
            item["code"] = spec.get("code")
        elif spec.get("finding_id") is not None:
            item["finding_id"] = spec.get("finding_id")
        else:
            item["resource"] = spec.get("resource")
        for key in ("ticket", "analyzer_type", "public"):
            if spec.get(key) is not None:
                item[key] = spec[key]
        items.append(item)
    layer = _Layer(label, {})
    valid = layer.validate({"exceptions": items})
    checked = _exceptions(layer, valid.get("exceptions"), {}, today)
    for index, (spec, again) in enumerate(zip(specs, checked, strict=True)):
        if spec.get("key") != again["key"]:
            raise layer.fail(("exceptions", index), f"its key {spec.get('key')!r} is not "
                             f"what it matches ({again['key']!r})")


def _clean(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Flags not given (None) say nothing."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            nested = _clean(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out
