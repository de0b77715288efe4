"""The scan document (scan.json), the contract between the scanner and every reader of it.

- `schema`: its typed form (TypedDicts over the JSON Schema that ships beside it, each closed
  set of values a Literal type from `rules`) and how a file is loaded and validated, with
  `trail`, the typed blocks the audit trail adds (changes, trend, finding_age);
- `rules`: the rules every side applies the same way: the statuses and codes, how an active
  finding is counted, which resource types are always shown, the text cleaning that keeps
  hostile strings from AWS inert;
- `derive`: the one step that computes, from the rest of a document, what the reports and
  the manifest state (its `derived` block), with the rules of `scope` (population,
  completeness, the configuration's hash) and `controls` (the control mapping,
  controls.json, and how a document answers each control);
- `consistency`: whether a document's summary, verdict and gaps say what its regions say;
- `pack`: what the reports say of the evidence pack they belong to.

The scanner writes documents; the reports, the history and the evidence read them; this
package imports none of them.
"""
