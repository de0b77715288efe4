"""Where a pack's evidence came from, as manifest.json records it.

A scan of AWS, a re-render of an earlier scan.json (`--from-json`) and a scan of the demo's
simulated organization write the same reports; only the manifest tells them apart, and
`aa-scan verify` says which it is. Endpoint overrides are recorded too, wherever botocore
takes them from (AWS_ENDPOINT_URL and its per-service forms, endpoint_url in the AWS config
file's profile or services section): a "live" scan through one did not necessarily talk to
AWS.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TypedDict

from reports.document.pack import RenderRun, Source

# The services aa-scan calls (a scan, the optional writes, the member view's roles).
SERVICES = ("accessanalyzer", "sts", "organizations", "account", "ec2", "iam", "kms", "s3",
            "sns")


def endpoint_overrides(environ: Mapping[str, str] | None = None,
                       profile: str | None = None) -> dict[str, str]:
    """Every endpoint botocore would send a call to instead of AWS's own, by where it is set:
    each AWS_ENDPOINT_URL* variable, and each service's endpoint_url in the AWS config file
    (the profile's, or its services section's)."""
    environ = os.environ if environ is None else environ
    found = {k: v for k, v in sorted(environ.items()) if k.startswith("AWS_ENDPOINT_URL") and v}
    found.update(_configured_endpoints(environ, profile))
    return found


def _configured_endpoints(environ: Mapping[str, str], profile: str | None) -> dict[str, str]:
    """endpoint_url settings of the AWS config file, per service, as botocore resolves them
    (botocore.configprovider.ConfiguredEndpointProvider; the variables are read above)."""
    import botocore.exceptions
    import botocore.session
    from botocore.configprovider import ConfiguredEndpointProvider

    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return {}
    try:
        session = botocore.session.Session(profile=profile)
        full, scoped = session.full_config, session.get_scoped_config()
    except botocore.exceptions.BotoCoreError:
        return {}  # no usable configuration: nothing configured in it either
    if str(scoped.get("ignore_configured_endpoint_urls", "")).lower() == "true":
        return {}
    found = {}
    for service in SERVICES:
        url = ConfiguredEndpointProvider(full, scoped, service, environ={}).provide()
        if url:
            found[f"AWS config file: {service}"] = str(url)
    return found


def live_source(environ: Mapping[str, str] | None = None, profile: str | None = None
                ) -> Source:
    return {"kind": "live", "endpoint_overrides": endpoint_overrides(environ, profile)}


def demo_source(variant: str, environ: Mapping[str, str] | None = None) -> Source:
    return {"kind": "demo", "endpoint_overrides": endpoint_overrides(environ, None),
            "demo": variant}


def render_source(sha256: str, size: int, run_id: str | None, render: RenderRun,
                  input_path: Path | None = None) -> Source:
    """A re-render of the scan.json with this SHA-256 and size (its run id as it records
    it), anchored, like a baseline, to the pack beside it when that pack is its run's and
    names this very scan.json."""
    anchor = (pack_manifest_of(input_path.parent, run_id, sha256)
              if input_path is not None and run_id else None)
    return {
        "kind": "re-render",
        "endpoint_overrides": {},
        "input": {"sha256": sha256, "run_id": run_id, "bytes": size,
                  "pack_manifest_sha256": anchor},
        "render": render,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- who ran it, with what ------------------------------------------------------------------------

# CI systems, by the variable that says one is running: the variables that name the job.
CI_SYSTEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("GITHUB_ACTIONS", "github-actions", (
        "GITHUB_REPOSITORY", "GITHUB_WORKFLOW", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
        "GITHUB_JOB", "GITHUB_ACTOR", "GITHUB_REF", "GITHUB_SHA", "GITHUB_SERVER_URL")),
    ("GITLAB_CI", "gitlab-ci", (
        "CI_PROJECT_PATH", "CI_PIPELINE_ID", "CI_JOB_ID", "CI_JOB_NAME", "CI_JOB_URL",
        "GITLAB_USER_LOGIN", "CI_COMMIT_SHA")),
    ("CODEBUILD_BUILD_ID", "aws-codebuild", (
        "CODEBUILD_BUILD_ID", "CODEBUILD_BUILD_ARN", "CODEBUILD_INITIATOR",
        "CODEBUILD_RESOLVED_SOURCE_VERSION")),
    ("JENKINS_URL", "jenkins", ("JOB_NAME", "BUILD_NUMBER", "BUILD_URL", "NODE_NAME")),
    ("BUILDKITE", "buildkite", (
        "BUILDKITE_PIPELINE_SLUG", "BUILDKITE_BUILD_NUMBER", "BUILDKITE_BUILD_URL",
        "BUILDKITE_BUILD_CREATOR")),
    ("CI", "ci", ()),
)  # fmt: skip
# Where AWS runs the process (Lambda, ECS/Fargate, CodeBuild set AWS_EXECUTION_ENV).
AWS_ENVIRONMENT = ("AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_BATCH_JOB_ID",
                   "ECS_CONTAINER_METADATA_URI_V4")  # fmt: skip


class CiJob(TypedDict):
    system: str
    variables: dict[str, str]


class RunBy(TypedDict):
    """Who ran aa-scan: the OS user and host, and the CI job or AWS environment if any."""

    user: str | None
    host: str | None
    ci: CiJob | None
    aws_environment: dict[str, str]


def run_by(environ: Mapping[str, str] | None = None) -> RunBy:
    import getpass
    import socket

    environ = os.environ if environ is None else environ
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):  # no login name and no password entry (some containers)
        user = None
    try:
        host: str | None = socket.gethostname() or None
    except OSError:
        host = None
    ci: CiJob | None = None
    for marker, system, names in CI_SYSTEMS:
        if environ.get(marker, "").lower() not in ("", "false", "0"):
            ci = {"system": system, "variables": {n: environ[n] for n in names if environ.get(n)}}
            break
    aws = {name: environ[name] for name in AWS_ENVIRONMENT if environ.get(name)}
    return {"user": user, "host": host, "ci": ci, "aws_environment": aws}


@cache
def checkout_commit(root: Path | None = None) -> tuple[str, bool] | None:
    """(commit, modified) of the git checkout aa-scan runs from, or None when it is not run
    from one (an installed wheel) or git cannot say."""
    import subprocess

    root = root or Path(__file__).resolve().parents[2]  # scanner/evidence/ -> the checkout
    if not (root / ".git").exists() or not (root / "pyproject.toml").is_file():
        return None
    # The checkout's own repository, whatever GIT_DIR or GIT_WORK_TREE the caller has.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=True,
        )
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    if len(commit) not in (40, 64) or not all(c in "0123456789abcdef" for c in commit):
        return None
    return commit, bool(status.stdout.strip())


# -- the baseline a run was compared with ----------------------------------------------------------


class BaselineRecord(TypedDict):
    """The run "what changed" was measured against, and its pack's manifest when found."""

    run_id: str
    started_at: str
    source: str  # history | file
    manifest_sha256: str | None  # None: its manifest.json was not found (or not its own)


def pack_manifest_of(folder: Path, run_id: str, scan_json_sha256: str | None) -> str | None:
    """SHA-256 of folder/manifest.json when it is the pack of run `run_id` (and, when given,
    names a scan.json with that SHA-256); otherwise None. Read as a hostile file."""
    from .files import MANIFEST_LIMIT, FileProblem, load_json, read_regular

    try:
        data = read_regular(folder / "manifest.json", MANIFEST_LIMIT)
        manifest = load_json(data)
    except (FileProblem, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("run_id") != run_id:
        return None
    if scan_json_sha256 is not None:
        artifacts = manifest.get("artifacts")
        named = [
            a for a in (artifacts if isinstance(artifacts, list) else [])
            if isinstance(a, dict) and a.get("path") == "scan.json"
        ]  # fmt: skip
        if not named or named[0].get("sha256") != scan_json_sha256:
            return None
    return hashlib.sha256(data).hexdigest()


def baseline_record(
    baseline: Mapping[str, object] | None, baseline_file: Path | None, output_root: Path
) -> BaselineRecord | None:
    """The baseline of a document's `changes` (None: compared with nothing, or a first
    run). Its manifest is looked for beside the --baseline file, or, for a baseline the
    history chose, in the run folder named by its run id under `output_root` (where aa-scan
    writes runs by default); it counts only if it is that run's and names the very scan.json
    compared with (the file's SHA-256, or the one the history recorded)."""
    if not baseline:
        return None
    run_id = str(baseline.get("run_id") or "")
    source = str(baseline.get("source") or "")
    found = None
    if run_id and source == "file" and baseline_file is not None:
        try:
            sha = file_sha256(baseline_file)
        except OSError:
            sha = None
        if sha is not None:
            found = pack_manifest_of(baseline_file.parent, run_id, sha)
    elif run_id and "/" not in run_id and run_id not in (".", ".."):
        # The history's copy of the run is anchored to the pack only if it is the scan.json
        # that pack names (an edited copy imported under the run's id is not).
        recorded = baseline.get("scan_json_sha256")
        if isinstance(recorded, str):
            found = pack_manifest_of(output_root / run_id, run_id, recorded)
    return {
        "run_id": run_id,
        "started_at": str(baseline.get("started_at") or ""),
        "source": source,
        "manifest_sha256": found,
    }
