"""The exceptions that end a run early; the CLI turns each into a one-line message and exit 2."""

from __future__ import annotations

from reports.document.rules import one_line


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
    """Ctrl-C or SIGTERM before anything was collected (the CLI exits 128 + the signal)."""
