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

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

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


def _marks(node: yaml.Node, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Line numbers of every key, so errors can point into the file."""
    marks: dict[tuple[str, ...], str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            marks[key] = f":{key_node.start_mark.line + 1}"
            marks.update(_marks(value_node, key))
    return marks


def read_config_file(path: Path) -> tuple[dict[str, Any], Marks]:
    """A YAML configuration file and the line of each of its keys, or a ConfigError that
    names the file (and the line, for YAML that does not parse)."""
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


# -- validating one layer ---------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,\s]+")


def _shape(value: Any, schema: Mapping[str, Any]) -> Any:
    """Apply the schema's x-list and x-case annotations before validation."""
    if isinstance(value, Mapping) and "properties" in schema:
        properties = schema["properties"]
        return {k: _shape(v, properties[k]) if k in properties else v for k, v in value.items()}
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
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


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

    def where(self, path: tuple[str | int, ...]) -> str:
        keys = tuple(str(p) for p in path)
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        key = key or "top level"
        # A list item has no mark of its own: the line of the nearest key that has one.
        mark = next((self.marks[keys[:n]] for n in range(len(keys), 0, -1)
                     if keys[:n] in self.marks), "")
        return f"{self.label}{mark}: {key}"

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


def load_options(config_path: Path | None, overrides: Mapping[str, Any],
                 base_document: Mapping[str, Any] | None = None) -> Options:
    """The configuration file (explicit, or config/regions.yaml if present), then
    `base_document` (the demo's built-in settings), then the flags (`overrides`, in the
    file's own shape, so a flag is validated exactly like the key it overrides)."""
    path = config_path or DEFAULT_CONFIG_PATH
    layers: list[tuple[_Layer, Mapping[str, Any]]] = []
    used_path = None
    if config_path is not None or path.exists():
        from_file, marks = read_config_file(path)
        layers.append((_Layer(str(path), marks), from_file))
        used_path = path
    if base_document:
        layers.append((_Layer("built-in settings", {}), base_document))
    layers.append((_Layer(COMMAND_LINE, {}), _clean(overrides)))
    merged: dict[str, Any] = {}
    unverified: dict[str, str] = {}
    for layer, settings in layers:
        valid = layer.validate(settings)
        _check_regions(layer, valid, unverified)
        merged = _merge(merged, valid)
    options = _options(merged, used_path, unverified)

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
