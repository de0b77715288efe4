"""Build the scheduled deployment's Lambda zip: aa-scan and its dependencies at the versions
pinned in deploy/constraints.txt, as wheels for the function's runtime (CPython 3.12 on
x86_64 Linux, whatever machine builds it), with deploy/lambda_handler.py at the zip's root.

    python deploy/build_lambda.py [--output dist/aa-scan-lambda.zip]

It prints the zip's size, its size unpacked (AWS Lambda allows 250 MB) and its SHA-256. The
zip is reproducible: entries sorted, one fixed timestamp. It refuses to build while the
scanner role in deploy/template.yaml differs from config/iam-policy.json (one source: the
template's statements are checked against it, `policy_differences`).

constraints.txt lists aa-scan's runtime dependencies and theirs, each pinned (==): after a
dependency changes in pyproject.toml, regenerate it from a fresh virtual environment
(`pip install .` then `pip freeze --exclude aa-scan`) and review the diff.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
TEMPLATE = DEPLOY / "template.yaml"
POLICY = ROOT / "config" / "iam-policy.json"
CONSTRAINTS = DEPLOY / "constraints.txt"
HANDLER = DEPLOY / "lambda_handler.py"
# The function's runtime: python3.12 on Amazon Linux 2023 (glibc 2.34), so wheels for
# manylinux 2.28 and older (numpy 2.3 and later publish only manylinux_2_28 x86_64 wheels).
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
STAMP = (2026, 1, 1, 0, 0, 0)  # every entry's time: the same input, the same zip
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# Not needed by the function: the simulated organization (it imports moto, which is not
# there), bytecode caches (Lambda compiles at import), pip's installer records.
LEFT_OUT_TOP = frozenset({"simulator", "bin"})


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form functions (!Ref, !Sub ...) read as {tag: value}."""


def _function(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


_TemplateLoader.add_multi_constructor("!", _function)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """A CloudFormation template in YAML, its intrinsic functions as {tag: value}."""
    loaded: dict[str, Any] = yaml.load(path.read_text("utf-8"), Loader=_TemplateLoader)
    return loaded


def policy_differences(template: dict[str, Any] | None = None) -> list[str]:
    """How the scanner role's statements differ from config/iam-policy.json's (by Sid); []
    when every statement is the policy's own, and every read-only one is there."""
    template = template or load_template()
    role = template["Resources"]["ScannerRole"]["Properties"]
    (policy,) = role["Policies"]
    deployed = {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}
    source = {s["Sid"]: s for s in json.loads(POLICY.read_text("utf-8"))["Statement"]}
    problems = [f"{sid}: not in {POLICY.name}" for sid in deployed if sid not in source]
    problems += [f"{sid}: differs from {POLICY.name}" for sid, s in deployed.items()
                 if sid in source and s != source[sid]]
    problems += [f"{sid}: read-only, but not in the template" for sid in source
                 if not sid.startswith("AaScanOptional") and sid not in deployed]
    return problems


def _zip(folder: Path, output: Path) -> tuple[int, int]:
    """The folder as a reproducible zip; (bytes unpacked, entries)."""
    unpacked = entries = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            parts = name.split("/")
            if parts[0] in LEFT_OUT_TOP or "__pycache__" in parts:
                continue
            info = zipfile.ZipInfo(name, STAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data, compresslevel=9)
            unpacked += len(data)
            entries += 1
    return unpacked, entries


def _forget_build_folder(target: Path) -> None:
    """pip records where a wheel was installed from (direct_url.json, and its line in
    RECORD): a temporary folder, different every build. Removed, so the zip is reproducible."""
    for found in target.glob("*.dist-info/direct_url.json"):
        found.unlink()
        record = found.with_name("RECORD")
        lines = record.read_text("utf-8").splitlines(keepends=True)
        record.write_text("".join(line for line in lines
                                  if not line.startswith(f"{found.parent.name}/direct_url.json")),
                          "utf-8")


def build(output: Path) -> dict[str, Any]:
    """Build the zip; what was built (sizes, SHA-256)."""
    problems = policy_differences()
    if problems:
        raise SystemExit(f"{TEMPLATE.name}: the scanner role is not {POLICY.name}'s: "
                         + "; ".join(problems))
    with tempfile.TemporaryDirectory(prefix="aa-scan-lambda-") as scratch:
        wheels, target = Path(scratch) / "wheels", Path(scratch) / "package"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
        (wheel,) = wheels.glob("aa_scan-*.whl")
        platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
        subprocess.run([*pip, "install", "--target", str(target), "--only-binary=:all:",
                        *platforms, "--implementation", "cp", "--python-version",
                        PYTHON_VERSION, "--constraint", str(CONSTRAINTS), str(wheel)],
                       check=True)
        _forget_build_folder(target)
        shutil.copy2(HANDLER, target / HANDLER.name)
        unpacked, entries = _zip(target, output)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    built = {"zip": str(output), "bytes": output.stat().st_size, "unpacked_bytes": unpacked,
             "entries": entries, "sha256": digest}
    if unpacked > LAMBDA_UNZIPPED_LIMIT:
        raise SystemExit(f"{output}: {unpacked} bytes unpacked, over AWS Lambda's 250 MB")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "aa-scan-lambda.zip")
    args = parser.parse_args(argv)
    built = build(args.output)
    print(f"{built['zip']}: {built['bytes'] / 2**20:.1f} MiB "
          f"({built['unpacked_bytes'] / 2**20:.1f} MiB unpacked, {built['entries']} files), "
          f"sha256 {built['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
