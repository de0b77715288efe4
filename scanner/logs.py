"""Logging: stderr for people, a rotating file (safe for concurrent runs) for the record.

Every record passes a redaction filter first: access key ids, secret keys and session
tokens never reach a log line, whatever a library or an AWS error message puts in it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from reports.document.rules import one_line

from .errors import OutputError

LOGGER = "aa_scan"
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{12,}\b")
_SIGNATURE = re.compile(r"(Signature=|Credential=|X-Amz-Security-Token[=:]\s*)[^\s,&\"']+")


class Redactor(logging.Filter):
    """Removes credentials from log records (message and arguments)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= 8}

    def add(self, *secrets: str | None) -> None:
        self.secrets.update(s for s in secrets if s and len(s) >= 8)

    def scrub(self, text: str) -> str:
        # Terminal escapes, bidi overrides, lone surrogates (which would crash the handler)
        # and newlines (a message from AWS must not forge a second log line).
        text = one_line(text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[REDACTED]")
        text = _SIGNATURE.sub(r"\1[REDACTED]", text)
        return _KEY_ID.sub("[REDACTED-KEY-ID]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.scrub(message)
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


REDACTOR = Redactor()


def environment_secrets() -> list[str]:
    return [os.environ.get(k, "") for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                             "AWS_ACCESS_KEY_ID", "AWS_SECURITY_TOKEN")]


def setup_logging(debug: bool) -> logging.Logger:
    """Stderr logging; called once at start-up, before the configuration is read (which
    may then set its own level with set_level)."""
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False
    REDACTOR.add(*environment_secrets())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(REDACTOR)
    logger.addHandler(handler)
    # botocore's own debug output includes signed headers: never at DEBUG, even with --debug.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return logger


def set_level(level: str) -> None:
    """The configured level (log.level) for every handler of the aa-scan logger."""
    logging.getLogger(LOGGER).setLevel(getattr(logging, level, logging.INFO))


def add_file_log(path: Path, max_bytes: int, backups: int) -> None:
    """The rotating log file shared by concurrent runs (concurrent-log-handler locks it)."""
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # chmod: the log, its rotations and its lock file readable by their owner only.
        handler = ConcurrentRotatingFileHandler(str(path), maxBytes=max_bytes,
                                                backupCount=backups, encoding="utf-8",
                                                chmod=0o600)
    except OSError as exc:
        raise OutputError(f"cannot write the log file {path}: "
                          f"{exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    handler.addFilter(REDACTOR)
    logging.getLogger(LOGGER).addHandler(handler)


def close_logging() -> None:
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
