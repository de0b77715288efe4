"""The evidence pack: what an auditor needs to rely on a run folder.

- `controls`: which published controls a scan is evidence for (the mapping, with each
  entry's source, is the data file controls.json) and how a scan document answers each;
- `scope`: the population, the query and the parameters a scan document covers;
- `manifest`: manifest.json, the hashes of every file a run wrote, written last;
- `signature`: manifest.json.sig, an AWS KMS signature of the manifest that can be checked
  offline, years later;
- `verify`: `aa-scan verify DIR`, which re-hashes a folder against its manifest;
- `upload`: the copy of a finished folder to S3, checked object by object.

This package reads scan documents (`document`) and never imports `scanner` or `reports`: the
same code serves a live scan, a re-render and an auditor's check of a folder. AWS clients
are handed in by the caller.
"""
