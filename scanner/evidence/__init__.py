"""The evidence pack: what an auditor needs to rely on a run folder.

- `controls`: which published controls a scan is evidence for (the mapping, with each
  entry's source, is the data file controls.json) and how a scan document answers each;
- `scope`: the population, the query and the parameters a scan document covers;
- `manifest`: manifest.json, the hashes of every file a run wrote, written last;
- `provenance`: where the evidence came from (live, re-render, demo), the command line, who
  ran it, the tool's commit, the baseline;
- `consistency`: whether a scan document's summary, verdict and gaps say what its regions
  say (a re-render refuses one that does not);
- `integrity`: the integrity box of report.html and the workbook's Summary sheet;
- `signature`: manifest.json.sig, an AWS KMS signature of a statement about the manifest
  that can be checked offline, years later, against a key the verifier pins;
- `files`: reading a folder an attacker may have prepared (no links, FIFOs or devices
  followed or read, sizes capped);
- `verify`: `aa-scan verify DIR`, which re-hashes a folder against its manifest and says
  what the signature proves;
- `upload`: the copy of a finished folder to S3, checked object by object.

This package reads scan documents (`document`) and never imports `scanner` or `reports`: the
same code serves a live scan, a re-render and an auditor's check of a folder. AWS clients
are handed in by the caller.
"""
