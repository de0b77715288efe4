"""Reading files of a run folder that may have been prepared by an attacker.

`aa-scan verify` is pointed at folders someone else controls. Every file it reads is opened
with O_NOFOLLOW (a symbolic link is never followed, whatever it points to) and O_NONBLOCK
(opening a FIFO does not wait for a writer), then checked with fstat: only a regular file is
read, and only up to a size fixed per kind of file, so a FIFO never hangs the command and a
link to /dev/zero never fills the memory. A name with several parts is opened one folder at
a time, each with O_NOFOLLOW too, so no part of the path can lead out of the run folder.

A file that cannot be read this way raises FileProblem, whose `kind` says why in a word the
caller turns into a line of its report.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from reports.document.rules import one_line

# Bigger than any file aa-scan writes of the kind, by a wide margin.
MANIFEST_LIMIT = 16 << 20
# scan.json of 100,000 findings is about 60 MB: an artifact this large is not one aa-scan
# wrote, and hashing it (a sparse file of terabytes) would keep verify busy for hours.
ARTIFACT_LIMIT = 4 << 30
SIGNATURE_LIMIT = 256 << 10
PUBLIC_KEY_LIMIT = 64 << 10
CHUNK = 1 << 20

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
_FOLDER_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC


class FileProblem(Exception):
    """A file that is not a readable regular file of acceptable size.

    kind: "missing", "symlink", "not a regular file", "too large" or "unreadable"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    @property
    def text(self) -> str:
        """What is wrong, in a few words for a report line (a link's target or a folder's
        name is the pack's text: shown, never sent to the terminal as it is)."""
        if self.kind == "not a regular file":
            return one_line(f"{self.detail}, not a regular file")
        if self.kind == "too large":
            return one_line(f"too large ({self.detail})")
        return one_line(self.detail)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _link_target(name: str, dir_fd: int | None) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


def _open(name: str, dir_fd: int | None) -> int:
    """A descriptor of the regular file `name` (relative to dir_fd when given), never through
    a symbolic link; FileProblem otherwise."""
    parts = name.split("/") if dir_fd is not None else [name]
    opened: list[int] = []
    current = dir_fd
    try:
        for part in parts[:-1]:
            try:
                current = os.open(part, _FOLDER_FLAGS, dir_fd=current)
            except FileNotFoundError:
                raise FileProblem("missing", f"{part}/ does not exist") from None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise FileProblem("symlink", f"{part} is not a plain folder") from None
                raise FileProblem("unreadable", str(exc.strerror or exc)) from None
            opened.append(current)
        last = parts[-1]
        try:
            fd = os.open(last, _FLAGS, dir_fd=current)
        except FileNotFoundError:
            raise FileProblem("missing", "no such file") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                target = _link_target(last, current)
                raise FileProblem("symlink", f"a symbolic link (to {target})") from None
            raise FileProblem("unreadable", str(exc.strerror or exc)) from None
    finally:
        for folder in opened:
            os.close(folder)
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise FileProblem("unreadable", str(exc.strerror or exc)) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileProblem("not a regular file", _file_type(mode))
    return fd


def list_files(folder: int) -> tuple[list[str], list[str]]:
    """(every file under the folder, by its name relative to it; the folders that could not
    be listed). Symbolic links are files, never followed; folders are opened one at a time
    by descriptor, so no depth or path length stops the listing."""
    found: list[str] = []
    unlisted: list[str] = []
    stack: list[tuple[int, str]] = [(os.dup(folder), "")]
    while stack:
        fd, prefix = stack.pop()
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        try:
                            child = os.open(entry.name, _FOLDER_FLAGS, dir_fd=fd)
                        except OSError:
                            unlisted.append(name)
                            continue
                        stack.append((child, name + "/"))
                    else:
                        found.append(name)
        except OSError:
            unlisted.append(prefix.rstrip("/") or ".")
        finally:
            os.close(fd)
    return sorted(found), sorted(unlisted)


def open_folder(directory: Path) -> int:
    """A descriptor of the run folder itself (the path the user gave, links followed)."""
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def read_regular(name: str | Path, limit: int, *, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes."""
    fd = _open(str(name), dir_fd)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise FileProblem("too large", f"{size:,} bytes, more than {limit:,}")
        chunks = []
        total = 0
        while chunk := os.read(fd, min(CHUNK, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileProblem("too large", f"more than {limit:,} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise FileProblem("unreadable", str(exc.strerror or exc)) from None
    finally:
        os.close(fd)


def digest_regular(name: str, *, dir_fd: int, expected_size: int | None = None) -> tuple[int, str]:
    """(size, SHA-256 in hex) of a regular file in the folder. When its size is not
    `expected_size` it is not read at all (the SHA-256 is then ""): a changed size already
    says the file changed, and a huge file is not hashed for nothing."""
    fd = _open(name, dir_fd)
    try:
        size = os.fstat(fd).st_size
        if expected_size is not None and size != expected_size:
            return size, ""
        if size > ARTIFACT_LIMIT:
            raise FileProblem("too large", f"{size:,} bytes, more than any file aa-scan writes")
        digest = hashlib.sha256()
        read = 0
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
            read += len(chunk)
        return read, digest.hexdigest()
    except OSError as exc:
        raise FileProblem("unreadable", str(exc.strerror or exc)) from None
    finally:
        os.close(fd)


def load_json(data: bytes) -> Any:
    """JSON from bytes; ValueError with a short reason for anything that is not (bad UTF-8,
    bad JSON, or nesting deeper than the interpreter's recursion limit)."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None
