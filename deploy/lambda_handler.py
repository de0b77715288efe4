"""The AWS Lambda entry point of the scheduled deployment (deploy/template.yaml): one aa-scan
run, set by the function's environment, with nothing kept on the machine.

Each invocation scans into a fresh folder under /tmp, keeps its history in the stack's bucket
(--history s3://BUCKET/history/history.sqlite: read at the start, written back with a
conditional write), copies its evidence pack there (--upload s3://BUCKET/packs/), signs it
with the stack's key when there is one, tells the topic when something changed, and removes
its folder: a warm function starts the next run with an empty /tmp.

Environment (set by the template): AA_SCAN_BUCKET, AA_SCAN_TOPIC_ARN, AA_SCAN_SIGNING_KEY
(empty: unsigned), AA_SCAN_FAIL_ON, AA_SCAN_ADMIN_ROLE_NAME and AA_SCAN_MEMBER_ROLE_NAME
(empty: none), AA_SCAN_SECURITY_HUB ("true": --security-hub), AA_SCAN_FORMATS (default every
format).

Returns the exit code and what it means, the run id and where its pack is. A run that could
not scan (exit 2 or 4) raises, so the function's Errors metric (and the stack's alarm) sees
it; gaps (1) and an incomplete scan (3) are results, which the topic reports.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMATS = "json,html,xlsx,ocsf,junit"
HISTORY_KEY = "history/history.sqlite"
PACKS_PREFIX = "packs/"
MEANING = {0: "compliant and complete", 1: "gaps found (per --fail-on)",
           2: "usage, configuration, credentials or output error",
           3: "incomplete: some region or call could not be assessed",
           4: "internal error"}


class RunFailed(RuntimeError):
    """aa-scan could not scan (exit 2 or 4), or was stopped: a function error."""


def arguments(environ: Mapping[str, str], run_folder: Path) -> list[str]:
    """aa-scan's command line for one scheduled run."""
    bucket = environ["AA_SCAN_BUCKET"]
    argv = ["--output-dir", str(run_folder), "--log-file", "",
            "--format", environ.get("AA_SCAN_FORMATS") or FORMATS,
            "--history", f"s3://{bucket}/{HISTORY_KEY}",
            "--upload", f"s3://{bucket}/{PACKS_PREFIX}",
            "--fail-on", environ.get("AA_SCAN_FAIL_ON") or "new-gaps"]
    if environ.get("AA_SCAN_TOPIC_ARN"):
        argv += ["--notify-sns", environ["AA_SCAN_TOPIC_ARN"]]
    if environ.get("AA_SCAN_SIGNING_KEY"):
        argv += ["--sign-kms-key", environ["AA_SCAN_SIGNING_KEY"]]
    if environ.get("AA_SCAN_ADMIN_ROLE_NAME"):
        argv += ["--admin-role-name", environ["AA_SCAN_ADMIN_ROLE_NAME"]]
    if environ.get("AA_SCAN_MEMBER_ROLE_NAME"):
        argv += ["--member-accounts", "all",
                 "--member-role-name", environ["AA_SCAN_MEMBER_ROLE_NAME"]]
    if environ.get("AA_SCAN_SECURITY_HUB", "").lower() == "true":
        argv.append("--security-hub")
    return argv


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """One scheduled run (the event is not read: the schedule only says when)."""
    from scanner.cli import main

    work = Path(tempfile.mkdtemp(prefix="aa-scan-"))
    previous = os.getcwd()
    run_folder = work / "run"
    try:
        # No configuration file is read from the function's code folder: the defaults and
        # the environment decide.
        os.chdir(work)
        code = main(arguments(os.environ, run_folder))
        run_id = _run_id(run_folder)
    finally:
        os.chdir(previous)
        shutil.rmtree(work, ignore_errors=True)
    bucket = os.environ["AA_SCAN_BUCKET"]
    result = {"exit_code": code,
              "meaning": MEANING.get(code, f"interrupted (signal {code - 128})"),
              "run_id": run_id,
              "pack": f"s3://{bucket}/{PACKS_PREFIX}{run_id}/" if run_id else None,
              "request_id": getattr(context, "aws_request_id", None)}
    if code in (2, 4) or code >= 128:
        raise RunFailed(json.dumps(result))
    return result


def _run_id(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "scan.json").read_text("utf-8")).get("run_id"))
    except (OSError, ValueError):
        return None
