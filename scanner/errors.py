"""The exceptions that end a run early; the CLI turns each into a one-line message and exit 2."""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """Text safe for a one-line message: control and bidi characters shown as escapes."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class ScanError(Exception):
    """Base class: a problem the user can fix; the message is one line and says how."""

    exit_code = 2

    def __init__(self, message: str = "") -> None:
        super().__init__(one_line(message))


class ConfigError(ScanError):
    """The configuration file or a flag is invalid."""


class CredentialsError(ScanError):
    """No usable AWS credentials, or the role could not be assumed."""


class OutputError(ScanError):
    """The output folder or a report file cannot be written."""


class InputError(ScanError):
    """A file given to --from-json is missing, corrupt or of a newer schema."""


class Interrupted(ScanError):
    """Ctrl-C or SIGTERM before anything was collected."""

    exit_code = 130
