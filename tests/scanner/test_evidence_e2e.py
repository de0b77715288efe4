"""The evidence pack end to end, against the simulated organization with moto's KMS and S3:
the manifest a scan writes, `aa-scan verify` on intact and tampered folders, signatures
(good, bad, by another key), and the upload to S3 (checked, and failing half-way)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import scanner.aws
from evidence.signature import pem
from evidence.upload import UploadError, _mismatch, parse_destination, upload_folder
from scanner.cli import main

from .conftest import env_world

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS,
              "findings": [{"generate": {"count": 40}}]}]
ALL = "json,html,xlsx"
PACK = ["report.html", "report.xlsx", "scan.json"]
BUCKET = "aa-scan-evidence"


def verify(capsys: pytest.CaptureFixture[str], directory: Path, *args: str
           ) -> tuple[int, list[str], str]:
    code = main(["verify", str(directory), *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())


def signing_key(world: Any, spec: str = "ECC_NIST_P256") -> str:
    key = world.client("kms").create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["Arn"])


# -- the manifest -------------------------------------------------------------------------------


def test_a_scan_writes_its_manifest_last_naming_every_file(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        run = run_scan(formats=ALL)
        stats = world.stats.snapshot()["operations"]
    assert run.code == 0, run.err
    directory = run.directory
    manifest = manifest_of(directory)
    assert [a["path"] for a in manifest["artifacts"]] == PACK
    for artifact in manifest["artifacts"]:
        data = (directory / artifact["path"]).read_bytes()
        assert artifact["bytes"] == len(data)
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
    # Written last: no artifact is newer than the manifest.
    newest = max((directory / name).stat().st_mtime_ns for name in PACK)
    assert (directory / "manifest.json").stat().st_mtime_ns >= newest
    assert "manifest.json" in run.out.splitlines()[-1]
    # The query: every operation the simulated AWS saw, counted the same in scan.json.
    calls = {operation.split(":")[1]: count for operation, count in stats.items()}
    assert manifest["completeness"]["api_calls"] == calls == run.document["api_calls"]
    assert calls["ListAnalyzers"] == 3 and calls["GetCallerIdentity"] == 1
    assert sum(r["api_calls"] for r in run.document["regions"]) == sum(
        n for op, n in calls.items() if op in ("ListAnalyzers", "GetFindingsStatistics",
                                               "ListArchiveRules", "ListFindings"))
    # The parameters: the configuration scan.json records, and its hash.
    configuration = run.document["configuration"]
    assert manifest["configuration"] == configuration
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    assert manifest["configuration_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert manifest["scope"]["regions_scanned"] == sorted(REGIONS)
    assert manifest["scope"]["regions_not_enabled"] == ["af-south-1"]
    assert manifest["scope"]["accounts"] == 3
    assert manifest["identity"] == run.document["identity"]
    assert manifest["run_id"] == run.document["run_id"]
    assert manifest["controls"] == run.document["summary"]["controls"]


# -- verify -------------------------------------------------------------------------------------


def scan_once(folder: Path, *args: str) -> tuple[int, Path]:
    """A scan of the world in the environment as `run_scan` makes it (from inside folder, so
    the history and the defaults are its own), for a fixture several tests share."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        code = main([*args, "--output-dir", str(folder / "out1"), "--log-file", "",
                     "--format", ALL])
    return code, folder / "out1"


@pytest.fixture(scope="module")
def scanned_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scan's pack, made once: the tests that damage a pack each damage a copy of it."""
    folder = tmp_path_factory.mktemp("pack")
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS):
        code, directory = scan_once(folder)
    assert code == 0
    return directory


@pytest.fixture
def pack(scanned_pack: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out1"
    shutil.copytree(scanned_pack, copy)
    return copy


def test_an_intact_folder_verifies(pack, capsys):
    code, lines, err = verify(capsys, pack)
    assert code == 0, err
    assert lines == [f"INTACT {pack}: 3 artifact(s) match manifest.json; signature: not signed "
                     "(hashes only: whoever can rewrite the folder can rewrite manifest.json "
                     "too)"]


def test_a_changed_byte_in_report_html_is_named(pack, capsys):
    page = pack / "report.html"
    data = bytearray(page.read_bytes())
    data[len(data) // 2] ^= 0x01
    page.write_bytes(bytes(data))
    code, lines, _ = verify(capsys, pack)
    assert code == 1
    recorded = next(a for a in manifest_of(pack)["artifacts"] if a["path"] == "report.html")
    now = hashlib.sha256(bytes(data)).hexdigest()
    assert lines == [
        f"CHANGED report.html: SHA-256 {now[:16]}… ({len(data):,} bytes), manifest.json "
        f"recorded {recorded['sha256'][:16]}… ({recorded['bytes']:,} bytes)",
        f"TAMPERED {pack}: 1 problem(s) against manifest.json (3 artifact(s))"]


def test_a_missing_and_an_added_artifact_are_named(pack, capsys):
    (pack / "report.xlsx").unlink()
    (pack / "notes.txt").write_text("added later")
    (pack / "extra").mkdir()
    (pack / "extra" / "x\nINTACT forged").write_text("a name that tries to forge a line")
    code, lines, _ = verify(capsys, pack)
    assert code == 1
    assert lines[:-1] == [
        "MISSING report.xlsx: named in manifest.json, not in the folder",
        "ADDED extra/x[U+000A]INTACT forged: in the folder, not named in manifest.json",
        "ADDED notes.txt: in the folder, not named in manifest.json"]
    assert lines[-1].startswith(f"TAMPERED {pack}: 3 problem(s)")


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda d: (d / "manifest.json").unlink(), "no manifest in this folder"),
    (lambda d: (d / "manifest.json").write_text('{"manifest_version": 7}'), "newer"),
])
def test_an_unreadable_manifest_exits_2_with_one_line(pack, capsys, damage, message):
    damage(pack)
    code, lines, err = verify(capsys, pack)
    assert code == 2 and lines == []
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_a_missing_folder_exits_2(tmp_path, capsys):
    code, lines, err = verify(capsys, tmp_path / "nowhere")
    assert (code, lines) == (2, []) and "no such folder" in err
    code, _, err = verify(capsys, tmp_path, "--no-such-flag")
    assert code == 2 and "aa-scan verify: error" in err


# -- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, algorithm", [("ECC_NIST_P256", "ECDSA_SHA_256"),
                                             ("RSA_2048", "RSASSA_PSS_SHA_256")])
def test_a_signed_pack_verifies_offline_and_online(monkeypatch, run_scan, capsys, spec,
                                                   algorithm):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        key = signing_key(world, spec)
        run = run_scan("--sign-kms-key", key, formats=ALL)
        assert run.code == 0, run.err
        assert f"Signed: {run.directory / 'manifest.json.sig'} ({algorithm}, {key})" in run.out
        offline = verify(capsys, run.directory)
        online = verify(capsys, run.directory, "--online")
        pinned = verify(capsys, run.directory, "--key-arn", key)
    record = json.loads((run.directory / "manifest.json.sig").read_text())
    manifest = (run.directory / "manifest.json").read_bytes()
    assert record["key_arn"] == key and record["algorithm"] == algorithm
    assert record["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert record["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert base64.b64decode(record["signature"])
    assert offline[0] == 0 and "checked offline with the public key in the file" in offline[1][0]
    assert f"signature: valid, {algorithm} by {key}" in offline[1][0]
    assert online[0] == 0 and "checked by kms:Verify" in online[1][0]
    assert pinned[0] == 0


@pytest.fixture(scope="class")
def signed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path]]:
    """A signed pack, made once for the tests of a class, the world kept up until the last of
    them (for a second key and for kms:Verify)."""
    folder = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS) as world:
        key = signing_key(world)
        code, directory = scan_once(folder, "--sign-kms-key", key)
        assert code == 0
        yield world, key, directory


@pytest.fixture
def signed(signed_world: tuple[Any, str, Path], tmp_path: Path) -> tuple[Any, str, Path]:
    """The signed pack of the class, copied for one test to damage."""
    world, key, directory = signed_world
    copy = tmp_path / "out1"
    shutil.copytree(directory, copy)
    return world, key, copy


def rewrite_signature(directory: Path, **fields: str) -> None:
    path = directory / "manifest.json.sig"
    record = json.loads(path.read_text())
    record.update(fields)
    path.write_text(json.dumps(record))


class TestASignedPack:
    """Damaged signed packs: one world and one signed scan for the class, a copy per test."""

    def test_a_bad_signature_is_tampered(self, signed, capsys):
        _world, key, directory = signed
        record = json.loads((directory / "manifest.json.sig").read_text())
        signature = bytearray(base64.b64decode(record["signature"]))
        signature[-1] ^= 0x01
        rewrite_signature(directory, signature=base64.b64encode(bytes(signature)).decode())
        code, lines, _ = verify(capsys, directory)
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: the signature does not match the "
                            f"manifest and the public key (key {key}, ECDSA_SHA_256)")
        code, lines, _ = verify(capsys, directory, "--online")
        assert code == 1 and "kms:Verify says the signature is not valid" in lines[0]

    def test_a_signature_by_another_key_is_tampered(self, signed, capsys):
        world, key, directory = signed
        kms = world.client("kms")
        other = signing_key(world)
        digest = hashlib.sha256((directory / "manifest.json").read_bytes()).digest()
        forged = kms.sign(KeyId=other, Message=digest, MessageType="RAW",
                          SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        # The other key's signature under the first key's name and public key: it does not
        # verify.
        rewrite_signature(directory, signature=base64.b64encode(forged).decode())
        code, lines, _ = verify(capsys, directory)
        assert code == 1 and lines[0].startswith("SIGNATURE manifest.json.sig: the signature "
                                                 "does not match")
        # Re-signed whole by the other key (its ARN and public key too), it verifies on its own
        # terms; the key the auditor expects is what tells it apart.
        expected = pem(kms.get_public_key(KeyId=key)["PublicKey"])
        rewrite_signature(directory, key_arn=other,
                          public_key_pem=pem(kms.get_public_key(KeyId=other)["PublicKey"]))
        assert verify(capsys, directory)[0] == 0
        pem_file = directory.parent / "expected.pem"
        pem_file.write_text(expected)
        code, lines, _ = verify(capsys, directory, "--public-key", str(pem_file))
        assert code == 1
        assert lines[0] == ("SIGNATURE manifest.json.sig: its public key is not the expected "
                            "public key")
        code, lines, _ = verify(capsys, directory, "--key-arn", key)
        assert code == 1
        assert lines[0] == (f"SIGNATURE manifest.json.sig: signed by {other}, not by the "
                            f"expected key {key}")

    def test_a_signature_naming_no_kms_key_is_tampered_not_a_crash(self, signed, capsys):
        _world, _key, directory = signed
        rewrite_signature(directory, key_arn="arn:aws:kms:../../evil\x1b[31m")
        code, lines, err = verify(capsys, directory, "--online")
        assert code == 1, err
        assert lines[0] == ("SIGNATURE manifest.json.sig: its key ARN is not a KMS key ARN, so "
                            "kms:Verify cannot be asked (key arn:aws:kms:../../evil[U+001B][31m, "
                            "ECDSA_SHA_256)")

    def test_a_manifest_changed_after_signing_or_a_signature_removed_is_tampered(self, signed,
                                                                                 capsys):
        _world, _key, directory = signed
        manifest = directory / "manifest.json"
        manifest.write_bytes(manifest.read_bytes().replace(b'"complete": true',
                                                           b'"complete":true'))
        code, lines, _ = verify(capsys, directory)
        assert code == 1 and lines[0].startswith("CHANGED manifest.json: SHA-256")
        assert len(lines) == 2  # the signature is not reported a second time
        (directory / "manifest.json.sig").unlink()
        code, lines, _ = verify(capsys, directory)
        assert code == 1
        assert lines[0].startswith("MISSING manifest.json.sig: manifest.json says the pack was "
                                   "signed with arn:aws:kms:")


def test_a_key_that_cannot_sign_exits_2_and_leaves_the_reports(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        key = world.client("kms").create_key()["KeyMetadata"]["Arn"]  # ENCRYPT_DECRYPT
        run = run_scan("--sign-kms-key", key)
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, run.err
    assert errors[0].startswith(f"ERROR KMS key {key} cannot sign (key spec SYMMETRIC_DEFAULT")
    assert errors[0].endswith("use an asymmetric key with key usage SIGN_VERIFY (ECC_NIST_P256 "
                              "or RSA)")
    assert "Traceback" not in run.err
    assert sorted(p.name for p in run.directory.iterdir()) == ["manifest.json", "scan.json"]


# -- upload -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kms", [False, True])
def test_the_upload_copies_and_checks_every_object(monkeypatch, run_scan, kms):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        key = signing_key(world)
        extra = ("--upload-kms-key", "alias/aa-scan-evidence") if kms else ()
        run = run_scan("--sign-kms-key", key, "--upload", f"s3://{BUCKET}/audits/2026",
                       *extra, formats=ALL)
        assert run.code == 0, run.err
        prefix = f"audits/2026/{run.directory.name}/"
        names = [*PACK, "manifest.json", "manifest.json.sig"]
        assert [line for line in run.out.splitlines() if line.startswith("Uploaded: ")] == [
            f"Uploaded: s3://{BUCKET}/{prefix}{name}" for name in names]
        listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted(prefix + n for n in names)
        recorded = {a["path"]: a["sha256"] for a in manifest_of(run.directory)["artifacts"]}
        for name in names:
            local = (run.directory / name).read_bytes()
            head = s3.head_object(Bucket=BUCKET, Key=prefix + name, ChecksumMode="ENABLED")
            body = s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
            sha = hashlib.sha256(local).digest()
            assert body == local, name
            assert head["ChecksumSHA256"] == base64.b64encode(sha).decode()
            assert recorded.get(name, sha.hex()) == sha.hex()
            assert head["ServerSideEncryption"] == ("aws:kms" if kms else "AES256")
            if kms:
                assert head["SSEKMSKeyId"].endswith("alias/aa-scan-evidence")


def test_an_upload_failing_half_way_exits_2_and_leaves_the_folder_intact(monkeypatch, run_scan,
                                                                         capsys):
    made = scanner.aws.s3_client

    def failing_client(*args: Any, **kwargs: Any) -> Any:
        client = made(*args, **kwargs)
        puts = []

        def second_put_fails(**_: Any) -> None:
            puts.append(1)
            if len(puts) == 2:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied "
                                             "by the bucket policy"}}, "PutObject")

        client.meta.events.register("before-call.s3.PutObject", second_put_fails)
        return client

    monkeypatch.setattr(scanner.aws, "s3_client", failing_client)
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        run = run_scan("--upload", f"s3://{BUCKET}/audits/", formats=ALL)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert run.code == 2
    target = f"s3://{BUCKET}/audits/{run.directory.name}/report.xlsx"
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR upload to {target} failed after 1 of 4 object(s): AccessDenied: "
                      f"Access Denied by the bucket policy; the local folder {run.directory} is "
                      "intact"]
    assert "Traceback" not in run.err
    assert listed == [f"audits/{run.directory.name}/report.html"]
    assert "Uploaded:" not in run.out
    assert verify(capsys, run.directory)[0] == 0


def test_an_upload_to_a_bucket_that_does_not_exist_exits_2(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan("--upload", "s3://aa-scan-nowhere/")
    assert run.code == 2
    errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "NoSuchBucket" in errors[0] and "failed after 0 of 2" in errors[0]
    assert (run.directory / "manifest.json").is_file()


@pytest.fixture(scope="class")
def class_world() -> Iterator[Any]:
    """One world for the tests of a class, in the environment until the last of them."""
    with pytest.MonkeyPatch.context() as patch, env_world(patch, analyzers=ANALYZERS) as world:
        yield world


class TestBadEvidenceFlags:
    """Refused before anything is scanned: one world for the class, its calls counted from
    zero in each test."""

    @pytest.mark.parametrize("args, message", [
        (("--upload", "https://bucket/x"), "evidence.upload: expected an S3 location"),
        (("--upload", "s3://Bad_Bucket/"), "evidence.upload: expected an S3 location"),
        (("--upload-kms-key", "alias/x"), "needs evidence.upload"),
        (("--sign-kms-key", "not a key"), "evidence.sign_kms_key: expected a KMS key id"),
    ])
    def test_bad_evidence_flags_are_one_line_and_exit_2(self, class_world, run_scan, args,
                                                        message):
        class_world.stats.reset()
        run = run_scan(*args)
        called = class_world.stats.snapshot()["operations"]
        assert run.code == 2
        assert not called  # refused before anything was scanned
        errors = [line for line in run.err.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1 and message in errors[0], run.err


def test_a_file_changed_after_the_manifest_is_not_uploaded(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=ANALYZERS) as world:
        run = run_scan(formats=ALL)
        s3 = world.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        (run.directory / "report.xlsx").write_bytes(b"not the workbook aa-scan wrote")
        with pytest.raises(UploadError, match=r"failed after 1 of 4 object\(s\): report.xlsx "
                                              r"changed after manifest.json was written"):
            upload_folder(s3, run.directory, parse_destination(f"s3://{BUCKET}"))
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert listed == [f"{run.directory.name}/report.html"]


@pytest.mark.parametrize("head, problem", [
    ({"ContentLength": 9, "ChecksumSHA256": "abc=", "ServerSideEncryption": "AES256"},
     "S3 holds 9 bytes, 10 were sent"),
    ({"ContentLength": 10, "ServerSideEncryption": "AES256"},
     "S3 returned no SHA-256 checksum for the object"),
    ({"ContentLength": 10, "ChecksumSHA256": "xyz=", "ServerSideEncryption": "AES256"},
     "S3's SHA-256 checksum xyz= is not abc=, the file's"),
    ({"ContentLength": 10, "ChecksumSHA256": "abc=", "ServerSideEncryption": "aws:kms"},
     "the object is encrypted with aws:kms, not AES256"),
    ({"ContentLength": 10, "ChecksumSHA256": "abc=", "ServerSideEncryption": "AES256"}, None),
])
def test_an_object_that_is_not_what_was_sent_is_named(head, problem):
    assert _mismatch(head, 10, "abc=", "AES256") == problem


@pytest.mark.parametrize("uri, bucket, prefix", [
    ("s3://aa-scan-evidence", "aa-scan-evidence", ""),
    ("s3://aa-scan-evidence/", "aa-scan-evidence", ""),
    ("s3://aa-scan-evidence/audits", "aa-scan-evidence", "audits/"),
    ("s3://aa-scan-evidence//audits/2026/", "aa-scan-evidence", "audits/2026/"),
])
def test_s3_locations(uri, bucket, prefix):
    destination = parse_destination(uri)
    assert (destination.bucket, destination.prefix) == (bucket, prefix)
    assert destination.uri(destination.key("run", "scan.json")) == \
        f"s3://{bucket}/{prefix}run/scan.json"
