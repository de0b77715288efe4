"""A report written by a child process while this one writes the others.

The workbook of a large scan takes seconds of one core (3.5 s for 80,000 findings), while
scan.json, report.html and the history take the other; a machine has more than one. So the
pipeline hands the workbook to `start`, writes the other reports, then asks for its result.

Only where a fork is safe: on Linux, from a process whose only Python thread is the calling
one (a fork copies that thread alone, so a lock another thread held would stay held in the
child; the scan's workers have exited by then, and a demo's simulated AWS, which runs
threads in this process, keeps the workbook here). The child writes its report (atomically,
as every report is written, but left beside its target for this process to put in place:
see Pending) and leaves at once with os._exit: nothing of this process's is flushed or run
twice. Its answer comes back through a pipe: the path written, the writer's
OSError (a full disk: the pipeline reports it like any writer's), or any other failure with
its traceback. Anywhere else, `result` runs the writer here, at the moment it is asked for.

A child can be forked before everything it writes is known: the workbook is forked before
the history has compared the run with its baseline and before scan.json (whose SHA-256 it
states) is written, so that they are all done at once. A `Handoff` carries what comes later
from the parent to the child, which asks for it when it comes to it (the workbook writes the
sheets that state it last); a parent that gives nothing (it failed, or was interrupted)
leaves the child with `Abandoned`, and nothing written.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from reports.files import stage

log = logging.getLogger("aa_scan")
_WRITTEN, _OS_ERROR, _FAILED = 0, 1, 2  # the child's exit codes


class BackgroundError(RuntimeError):
    """The writer failed in the child process (not with an OSError): its traceback."""


def forkable() -> bool:
    """Whether a child process can write a report here (see the module docstring)."""
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


class Abandoned(RuntimeError):
    """The parent gave the child nothing through its Handoff: the child stops unwritten."""


class Handoff:
    """Bytes from the parent to a child forked before they were known (see the module
    docstring): `give` them here, `take` them there. A thread of the child reads them as
    they come, so a parent giving many never waits on a child busy writing. Where nothing
    was forked, `take` runs here after `give` (Pending.result), and returns what was given."""

    def __init__(self) -> None:
        self._given: bytes | None = None
        self._read: int | None = None
        self._write: int | None = None
        self._reader: threading.Thread | None = None

    def _fork(self) -> None:
        self._read, self._write = os.pipe()
        # A pipe holds 64 KiB; the child's reader drains it when it gets the GIL (every 5 ms
        # from a child busy in Python): at that size, 22 MB of changes kept the parent
        # waiting 1.8 s. At 1 MiB (what Linux lets any process ask for), a tenth of that.
        with suppress(OSError, AttributeError):
            fcntl.fcntl(self._write, fcntl.F_SETPIPE_SZ, 1 << 20)

    def _as_child(self) -> None:
        if self._write is not None:
            os.close(self._write)
            self._write = None
        self._reader = threading.Thread(target=self._receive, name="aa-scan-handoff",
                                        daemon=True)
        self._reader.start()

    def _receive(self) -> None:
        assert self._read is not None
        data = bytearray()
        while chunk := os.read(self._read, 1 << 20):
            data += chunk
        os.close(self._read)
        self._read = None
        size = int.from_bytes(data[:8], "big") if len(data) >= 8 else -1
        if size == len(data) - 8:
            self._given = bytes(data[8:])

    def _as_parent(self) -> None:
        if self._read is not None:
            os.close(self._read)
            self._read = None

    def give(self, data: bytes) -> None:
        """The bytes (once: a second call changes nothing)."""
        if self._given is not None:
            return
        self._given = data
        if self._write is not None:
            payload = memoryview(len(data).to_bytes(8, "big") + data)
            try:
                while payload:
                    payload = payload[os.write(self._write, payload):]
            except OSError:  # the child is gone: its answer says why
                pass
            self.close()

    def close(self) -> None:
        """Give nothing more: a child still waiting is Abandoned."""
        if self._write is not None:
            os.close(self._write)
            self._write = None

    def take(self) -> bytes:
        """What was given (in the child: waits for it). Raises Abandoned."""
        if self._reader is not None:
            self._reader.join()
            self._reader = None
        if self._given is None:
            raise Abandoned("the parent gave nothing")
        return self._given


class Pending:
    """A report being written, by a child process or (see `forkable`) not yet. `handoffs`:
    what the parent gives it after the fork (the writer takes them). `targets`: the files it
    writes (atomically: reports.files).

    The child leaves what it writes complete beside its target, and this process puts it in
    place when it asks for the result (`result`): a run that fails or is interrupted first
    has no report of it in its folder. The child ignores SIGINT and SIGTERM (a Ctrl-C or a
    service manager signals the whole process group; what to do is this process's to
    decide); `cancel` stops it with SIGKILL. Its temporary files (XlsxWriter's scratch with
    the findings in it) go into a folder this process makes and removes whatever happens,
    and the partial files of a child that died are removed here too."""

    def __init__(self, write: Callable[[], Path], *handoffs: Handoff,
                 targets: tuple[Path, ...] = ()) -> None:
        self._write = write
        self._pid: int | None = None
        self._answer = -1
        self._targets = targets
        self._scratch: str | None = None
        if not forkable():
            log.debug("written in this process (%d threads)", threading.active_count())
            return
        self._scratch = tempfile.mkdtemp(prefix="aa-scan-child-")
        for handoff in handoffs:
            handoff._fork()
        read, written = os.pipe()
        sys.stdout.flush()  # nothing buffered twice (the child leaves without flushing)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child: measured by its parent's tests)
            os.close(read)
            for handoff in handoffs:
                handoff._as_child()
            _child(write, written, self._scratch)
        os.close(written)
        for handoff in handoffs:
            handoff._as_parent()
        self._pid, self._answer = pid, read

    def cancel(self) -> None:
        """Stop the child, unwritten; here, nothing is written."""
        if self._pid is None:
            self._write = _cancelled
            return
        pid, self._pid = self._pid, None
        _stop(pid)
        with suppress(OSError):
            os.close(self._answer)
        self._clean()

    def result(self) -> Path:
        """The path written; raises what writing it raised (OSError, BackgroundError)."""
        if self._pid is None:
            return self._write()
        pid, self._pid = self._pid, None
        try:
            try:
                with os.fdopen(self._answer, "rb") as answer:
                    message = answer.read().decode("utf-8", "replace")
                _, status = os.waitpid(pid, 0)
            except BaseException:  # interrupted while waiting: the child stops, is reaped
                _stop(pid)
                raise
            code = os.waitstatus_to_exitcode(status)
            if code == _WRITTEN:
                reply = json.loads(message)
                for temporary, target in reply["staged"]:
                    os.replace(temporary, target)
                return Path(reply["path"])
            if code == _OS_ERROR:
                number, _, text = message.partition("\n")
                raise OSError(int(number or errno.EIO), text)
            raise BackgroundError(message or f"the writer's process ended with {code}")
        finally:
            self._clean()

    def _clean(self) -> None:
        """What the child left: its scratch folder, partial files beside the targets (a
        child that died; once the result is in place, none is left)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        for target in self._targets:
            for partial in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
                partial.unlink(missing_ok=True)


def _child(write: Callable[[], Path], answer: int, scratch: str
           ) -> None:  # pragma: no cover
    """Write, tell the parent, leave (never returns)."""
    # The process group's signals are the parent's to act on (see Pending).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    tempfile.tempdir = scratch  # the parent removes it, whatever becomes of this process
    staged = stage()
    code, message = _FAILED, ""
    try:
        path = write()
        message = json.dumps({"path": str(path),
                              "staged": [[str(t), str(g)] for t, g in staged]})
        code = _WRITTEN
    except OSError as exc:
        code, message = _OS_ERROR, f"{exc.errno or errno.EIO}\n{exc.strerror or exc}"
    except BaseException:
        message = traceback.format_exc()
    finally:
        try:
            data = message.encode("utf-8", "replace")
            while data:
                data = data[os.write(answer, data):]
        finally:
            os._exit(code)


def _cancelled() -> Path:
    raise Abandoned("cancelled")


def _stop(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with suppress(ChildProcessError):
        os.waitpid(pid, 0)
