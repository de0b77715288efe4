"""Review of the faster run (d324b28^..0c5458f): the workbook's child forked before the
history's comparison, and the Handoffs that feed it. Each test runs aa-scan as a process
(a pytest worker has threads, so it never forks there) against a world served by another
process, with a fault put in at one point of the run by a hook run before the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_process import served

ROOT = Path(__file__).resolve().parents[2]

# aa-scan's CLI, with HOOK run first; then what is left of its children once main() returned
# (before this process exits): RESULT gets {"code", "children"}, "children" being the pids of
# child processes still running or not reaped. They are then stopped (they are ours).
WRAPPER = r"""
import json, os, signal, sys
exec(os.environ["HOOK"])
from scanner.cli import main
code = main(sys.argv[1:])

def children():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.append([int(entry), fields[0]])
    return found

left = children()
scratch = sorted(p for p in os.listdir(os.environ["TMPDIR"]) if p.startswith("aa-scan-xlsx-"))
with open(os.environ["RESULT"], "w") as result:
    json.dump({"code": code, "children": left, "scratch": scratch}, result)
for pid, _ in left:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
sys.exit(code)
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small organization served by another process: one region, 300 findings."""
    folder = tmp_path_factory.mktemp("world")
    scenario = {
        "name": "speed-review",
        "page_size_cap": 1000,
        "organization": {"management_account": {"id": "111111111111"},
                         "accounts": [{"id": "222222222222"}],
                         "delegated_administrator": "222222222222"},
        "regions": {"universe": ["us-east-1"]},
        "analyzers": [{"type": "ORGANIZATION", "regions": ["us-east-1"],
                       "findings": [{"generate": {"count": 300}}]}],
    }
    yield from served(folder / "world.yaml", scenario)


def hooked(world: dict[str, str], tmp_path: Path, hook: str, *args: str,
           new_session: bool = False) -> tuple[dict, str, Path]:
    """aa-scan as a process, with `hook` run before its CLI: what the WRAPPER found, its
    stderr, and the run folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(world)
    env["AWS_CONFIG_FILE"] = "/nonexistent/config"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "run"
    env.update(HOOK=hook, RESULT=str(tmp_path / "result.json"), TMPDIR=str(scratch),
               RUN_FOLDER=str(out))
    done = subprocess.run([sys.executable, "-c", WRAPPER, "--output-dir", str(out),
                           "--log-file", "", "--no-history", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          start_new_session=new_session)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["code"] == done.returncode
    return result, done.stderr, out


# -- 1. a failure between the comparison and write_outputs leaves the child behind ----------

@pytest.mark.parametrize("fault, code", [("RuntimeError('a defect')", 4),
                                         ("KeyboardInterrupt", 130)])
def test_a_failure_after_the_comparison_leaves_no_child_and_no_scratch(world, tmp_path,
                                                                       fault, code):
    """_publish cancels the early workbook when `prepare` raises, and write_outputs when it
    fails; between the two (derive, _EarlyWorkbook.give, outcome_of) nothing does: aa-scan
    returns with the workbook's child still running, unreaped, its scratch folder holding
    the findings, and the child outlives it (reparented to init) until its pipes close."""
    hook = ("import scanner.pipeline as pipeline\n"
            "def derive(document):\n"
            f"    raise {fault}\n"
            "pipeline.derive = derive\n")
    result, stderr, _ = hooked(world, tmp_path, hook)
    assert result["code"] == code, stderr
    assert result["children"] == [], "the workbook's child outlives the run"
    assert result["scratch"] == [], "its XlsxWriter scratch folder (findings) is left"


# -- 2. interrupted while report.html is written: a report.xlsx is left behind --------------

@pytest.mark.parametrize("fault, code", [("KeyboardInterrupt", 130),
                                         ("RuntimeError('a defect')", 4)])
def test_a_run_that_fails_while_writing_report_html_leaves_no_workbook(world, tmp_path,
                                                                       fault, code):
    """The early child is given scan.json's SHA-256 as soon as scan.json is written, and
    renames report.xlsx into place while the parent still writes report.html. A Ctrl-C (or a
    defect) then: write_outputs cancels the child, which has already written; the
    interrupted run's folder keeps a complete report.xlsx and no manifest. Before the change
    (the workbook forked after report.html), nothing of the workbook was left."""
    hook = ("import os, time\n"
            "from pathlib import Path\n"
            "import reports.html as html\n"
            "def write_html(document, directory, **kwargs):\n"
            "    deadline = time.monotonic() + 5\n"
            "    while time.monotonic() < deadline and not (directory / 'report.xlsx').exists():\n"
            "        time.sleep(0.02)\n"
            f"    raise {fault}\n"
            "html.write_html = write_html\n")
    result, stderr, out = hooked(world, tmp_path, hook)
    assert result["code"] == code, stderr
    assert "manifest.json" not in os.listdir(out)
    assert "report.xlsx" not in os.listdir(out), "a workbook left in a run that failed"


# -- 3. SIGTERM to the process group while the history compares ----------------------------

def test_sigterm_to_the_group_while_publishing_is_not_an_internal_error(world, tmp_path):
    """systemd (KillMode=control-group) or `kill -TERM -PGID`: the first SIGTERM asks the
    scan to stop, and a run past its scan goes on with its reports. The workbook's child,
    forked now before the comparison and living through it, scan.json and report.html,
    dies of it (SIGTERM is KeyboardInterrupt there): the run ends with exit 4, "internal
    error" and the child's whole traceback as its error line, and no workbook or manifest."""
    hook = ("import os, signal, time\n"
            "import scanner.pipeline as pipeline\n"
            "_prepare = pipeline.prepare\n"
            "def prepare(*args, **kwargs):\n"
            "    time.sleep(0.5)  # the child is forked and waits for the comparison\n"
            "    os.killpg(0, signal.SIGTERM)\n"
            "    time.sleep(0.2)\n"
            "    return _prepare(*args, **kwargs)\n"
            "pipeline.prepare = prepare\n")
    result, stderr, _ = hooked(world, tmp_path, hook, new_session=True)
    assert result["code"] in (0, 143), stderr[-3000:]
    assert "internal error" not in stderr
    assert "Traceback" not in stderr


# -- 4. a Handoff to a child busy in Python waits on it -------------------------------------

BUSY = r"""
import json, sys, time
from pathlib import Path
from scanner.background import Handoff, Pending

handoff = Handoff()

def busy():  # as the workbook's child is, writing the Findings sheet when the changes come
    end = time.monotonic() + 4
    while time.monotonic() < end:
        pass
    handoff.take()
    return Path("/")

job = Pending(busy, handoff)
started = time.monotonic()
handoff.give(b"x" * 20_000_000)  # 80,000 findings re-created: ~22 MB of pickled changes
gave = time.monotonic() - started
job.result()
print(json.dumps({"gave": gave}))
"""


def test_giving_to_a_child_busy_in_python_does_not_wait_on_it():
    """Handoff's promise ("a parent giving many never waits on a child busy writing"), held by
    test_background only with a child asleep. The child's reader thread needs the GIL for
    each pipe-full (64 KiB) it drains, and gets it once per switch interval (5 ms) from a
    writer busy in Python: about 12 MB/s. The parent waits 1.6 s for 20 MB, before it can
    write scan.json, which the workbook then waits for."""
    done = subprocess.run([sys.executable, "-c", BUSY], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    gave = json.loads(done.stdout.splitlines()[-1])["gave"]
    assert gave < 0.4, f"the parent waited {gave:.2f} s on the child"


# -- 5. a child that dies (the OOM killer) leaves its files behind --------------------------

def test_a_workbook_child_that_dies_leaves_no_partial_workbook_or_scratch(world, tmp_path):
    """The workbook's child killed while it waits for the comparison (SIGKILL: the OOM
    killer; it now lives from before the comparison to the end of the run, beside a parent
    holding the same 80,000 findings). The run fails (exit 4, the child's death in one
    line), but its .report.xlsx.*.partial stays in the run folder and its XlsxWriter scratch
    folder (aa-scan-xlsx-*: the Findings rows as XML, package.xlsx) stays in the temporary
    folder: nothing removes what the child could not."""
    hook = ("import os, signal, time\n"
            "import scanner.pipeline as pipeline\n"
            "_prepare = pipeline.prepare\n"
            "def prepare(*args, **kwargs):\n"
            "    time.sleep(0.5)  # the child has begun the workbook and waits\n"
            "    for entry in os.listdir('/proc'):\n"
            "        if entry.isdigit():\n"
            "            try:\n"
            "                stat = open(f'/proc/{entry}/stat').read().rsplit(')', 1)[1]\n"
            "            except OSError:\n"
            "                continue\n"
            "            if int(stat.split()[1]) == os.getpid():\n"
            "                os.kill(int(entry), signal.SIGKILL)\n"
            "    return _prepare(*args, **kwargs)\n"
            "pipeline.prepare = prepare\n")
    result, stderr, out = hooked(world, tmp_path, hook)
    assert result["code"] == 4, stderr
    [error] = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    assert "-9" in error
    assert os.listdir(tmp_path / "tmp") == [], "the scratch folder with the findings"
    assert [p for p in os.listdir(out) if p.endswith(".partial")] == []
