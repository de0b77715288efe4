"""The audit trail: every run recorded, compared with its baseline, and its trends.

- `trail`: a run's place in it: begin, prepare (baseline, changes, trend), record;
- `runs`: a run as the comparison sees it, from a scan document or from the store;
- `store`: the SQLite history (runs, region statuses, gaps and findings; a finding seen in
  many runs is stored once, with the span of runs that saw it); `tables`: its schema and
  the migration from older versions;
- `baselines`: pure: which earlier run each piece of a run is compared with (and which runs
  pruning must keep);
- `diff`: pure: the run and the earlier runs picked in, the `changes` block of scan.json out;
- `analysis`: pandas: the trend over recorded runs, finding age and time to resolve.

It reads and writes scan documents and its own database; it never calls AWS, and of the
rest of the product it imports only the scan document's contract (reports.document).
"""
