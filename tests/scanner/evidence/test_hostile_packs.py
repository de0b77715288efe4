"""`aa-scan verify` on folders an attacker prepared (issue 20 §4): a FIFO, /dev/zero, JSON nested
200,000 deep, paths leading out of the folder, a manifest.json that is itself a symbolic link,
a --public-key file that is no key. Each gets an answer at once: 1 when the pack is not the one
aa-scan wrote, 2 when the manifest (or a flag) cannot be read; never a hang, never a
traceback."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME

from .packs import make_pack

DEEP = 200_000


def verify(
    capsys: pytest.CaptureFixture[str],
    directory: Path,
    *args: str,
    timeout: float = 20.0,
    unblock: Path | None = None,
) -> tuple[int, list[str], str]:
    """`aa-scan verify` in a thread: a call still blocked after `timeout` seconds fails the
    test (and the FIFO `unblock` is opened for writing so the thread can end)."""
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(main(["verify", str(directory), *args])), daemon=True
    )
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if unblock is not None:
            fd = os.open(unblock, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        thread.join(5)
        pytest.fail(f"verify did not answer within {timeout} s")
    captured = capsys.readouterr()
    return result[0], captured.out.splitlines(), captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return make_pack(tmp_path / "run")


def replace_with(path: Path, make: Callable[[Path], None]) -> None:
    path.unlink()
    make(path)


# -- a FIFO never hangs -----------------------------------------------------------------------


def test_a_manifest_that_is_a_fifo_exits_2_at_once(pack, capsys):
    fifo = pack / MANIFEST_NAME
    replace_with(fifo, os.mkfifo)
    code, lines, err = verify(capsys, pack, unblock=fifo)
    assert (code, lines) == (2, [])
    assert "manifest.json" in one_error_line(err) and "a FIFO" in err


def test_a_signature_that_is_a_fifo_is_tampered_at_once(pack, capsys):
    fifo = pack / SIGNATURE_NAME
    os.mkfifo(fifo)
    code, lines, err = verify(capsys, pack, unblock=fifo)
    assert code == 1, err
    assert lines[0] == f"UNREADABLE {SIGNATURE_NAME}: a FIFO, not a regular file"


def test_an_artifact_that_is_a_fifo_is_tampered_at_once(pack, capsys):
    fifo = pack / "scan.json"
    replace_with(fifo, os.mkfifo)
    code, lines, err = verify(capsys, pack, unblock=fifo)
    assert code == 1, err
    assert lines[0] == "CHANGED scan.json: a FIFO, not a regular file"


# -- /dev/zero and huge files: sizes are capped --------------------------------------------------


def test_a_signature_linked_to_dev_zero_is_tampered_not_a_memory_error(pack, capsys):
    (pack / SIGNATURE_NAME).symlink_to("/dev/zero")
    code, lines, err = verify(capsys, pack)
    assert code == 1, err
    assert lines[0] == f"UNREADABLE {SIGNATURE_NAME}: a symbolic link (to /dev/zero)"
    assert "Traceback" not in err and "MemoryError" not in err


def test_a_manifest_larger_than_any_aa_scan_writes_exits_2(pack, capsys):
    with open(pack / MANIFEST_NAME, "r+b") as stream:  # sparse: 64 MiB on no disk
        stream.truncate(64 << 20)
    code, lines, err = verify(capsys, pack)
    assert (code, lines) == (2, [])
    assert "too large" in one_error_line(err)


def test_an_artifact_of_another_size_is_not_hashed(pack, capsys):
    with open(pack / "scan.json", "r+b") as stream:
        stream.truncate(1 << 40)  # a terabyte, sparse: hashing it would take hours
    code, lines, err = verify(capsys, pack, timeout=10)
    assert code == 1, err
    recorded = next(
        a
        for a in json.loads((pack / MANIFEST_NAME).read_text())["artifacts"]
        if a["path"] == "scan.json"
    )
    assert lines[0] == (
        f"CHANGED scan.json: {1 << 40:,} bytes, manifest.json recorded {recorded['bytes']:,} bytes"
    )


# -- JSON nested 200,000 deep -----------------------------------------------------------------


def test_a_manifest_nested_200000_deep_exits_2_with_one_line(pack, capsys):
    (pack / MANIFEST_NAME).write_text("[" * DEEP + "]" * DEEP)
    code, lines, err = verify(capsys, pack)
    assert (code, lines) == (2, [])
    assert "nested too deeply" in one_error_line(err)


def test_a_signature_nested_200000_deep_is_tampered(pack, capsys):
    (pack / SIGNATURE_NAME).write_text("[" * DEEP)  # under the signature's size cap
    code, lines, err = verify(capsys, pack)
    assert code == 1, err
    assert lines[0].startswith(f"SIGNATURE {SIGNATURE_NAME}: not a signature file")


def test_a_scan_json_nested_200000_deep_is_one_line_for_from_json(tmp_path, capsys):
    source = tmp_path / "scan.json"
    source.write_text('{"a":' * DEEP + "1" + "}" * DEEP)
    code = main(
        [
            "--from-json",
            str(source),
            "--output-dir",
            str(tmp_path / "out"),
            "--no-history",
            "--log-file",
            "",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "nested too deeply" in one_error_line(err)


# -- paths that lead out of the folder are tampering ----------------------------------------------


@pytest.mark.parametrize(
    "name", ["../outside.txt", "/etc/passwd", "a/../../outside.txt", "manifest.json"]
)
def test_a_manifest_naming_a_file_outside_the_folder_is_tampered(pack, capsys, name):
    (pack.parent / "outside.txt").write_text("x")
    path = pack / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["artifacts"].append({"path": name, "bytes": 1, "sha256": "0" * 64})
    path.write_text(json.dumps(manifest))
    code, lines, err = verify(capsys, pack)
    assert code == 1, err
    assert lines[0] == (
        f"UNSAFE {name}: {MANIFEST_NAME} names a path that is not a file of the run folder"
    )
    assert lines[-1].startswith(f"TAMPERED {pack}: 1 problem(s)")


def test_an_artifact_reached_through_a_linked_folder_is_tampered(pack, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = (pack / "scan.json").read_bytes()
    (elsewhere / "scan.json").write_bytes(data)
    path = pack / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["artifacts"][0]["path"] = "sub/scan.json"
    path.write_text(json.dumps(manifest))
    (pack / "scan.json").unlink()
    (pack / "sub").symlink_to(elsewhere)
    code, lines, err = verify(capsys, pack)
    assert code == 1, err
    assert "CHANGED sub/scan.json: sub is not a plain folder" in lines


def test_a_manifest_json_linked_out_of_the_folder_is_flagged(pack, capsys, tmp_path):
    copy = tmp_path / "elsewhere.json"
    copy.write_bytes((pack / MANIFEST_NAME).read_bytes())
    replace_with(pack / MANIFEST_NAME, lambda p: p.symlink_to(copy))
    code, lines, err = verify(capsys, pack)
    assert code == 1, err
    assert lines == [
        f"CHANGED {MANIFEST_NAME}: a symbolic link (to {copy}), not the file aa-scan wrote",
        f"TAMPERED {pack}: 1 problem(s) against {MANIFEST_NAME}",
    ]


# -- a --public-key that is no key is the user's error ---------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"not a key\n",
        b"",
        b"\x00\xff" * 10,
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_a_public_key_file_that_is_not_a_key_exits_2(pack, capsys, tmp_path, content):
    key = tmp_path / "key.pem"
    key.write_bytes(content)
    code, lines, err = verify(capsys, pack, "--public-key", str(key))
    assert (code, lines) == (2, [])
    assert one_error_line(err).startswith(f"ERROR --public-key {key}: not a PEM public key")


def test_a_public_key_that_is_a_fifo_or_dev_zero_exits_2_at_once(pack, capsys, tmp_path):
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo)
    code, lines, err = verify(capsys, pack, "--public-key", str(fifo), unblock=fifo)
    assert (code, lines) == (2, []) and "a FIFO" in one_error_line(err)
    code, lines, err = verify(capsys, pack, "--public-key", "/dev/zero")
    assert (code, lines) == (2, []) and "not a regular file" in one_error_line(err)
