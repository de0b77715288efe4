"""Log records are scrubbed: credentials removed, forged lines and escapes neutralised."""

from __future__ import annotations

import logging

from scanner.logs import Redactor


def scrub(redactor: Redactor, message: str, *args: object) -> str:
    record = logging.LogRecord("aa_scan", logging.INFO, __file__, 1, message, args, None)
    redactor.filter(record)
    return record.getMessage()


def test_known_secrets_key_ids_and_signatures_are_removed():
    redactor = Redactor(["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])
    text = scrub(redactor, "failed: %s key=%s Credential=AKIAIOSFODNN7EXAMPLE/2026, "
                 "Signature=abcdef0123", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 "ASIAY34FZKBOKMUTVV7A")
    assert "wJalrXUtnFEMI" not in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "ASIAY34FZKBOKMUTVV7A" not in text and "abcdef0123" not in text
    assert "[REDACTED]" in text


def test_a_message_from_aws_cannot_forge_log_lines_or_send_escapes():
    text = scrub(Redactor(), "region error: %s",
                 "denied\n2026-01-01 INFO all regions covered\x1b[2J\u202e\ud800")
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert "[U+000A]2026-01-01" in text  # shown, so the forged line stays on this one
    text.encode("utf-8")  # no lone surrogate left
