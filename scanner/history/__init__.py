"""The audit trail: every run recorded, compared with its baseline, and its trends.

- `store`: the SQLite history (runs, region statuses, gaps and findings; a finding seen in
  many runs is stored once, with the span of runs that saw it);
- `diff`: pure: two runs in, the `changes` block of scan.json out;
- `analysis`: pandas: the trend over recorded runs, finding age and time to resolve.

It reads and writes scan documents and its own database; it never calls AWS and imports
neither the scanner nor the reports.
"""
