"""The scan document (scan.json), the contract between the scanner and every reader of it.

`document.schema` is its typed form (TypedDicts over the JSON Schema that ships beside it) and
how a file is loaded and validated; `document.rules` holds the rules every side applies the
same way: how an active finding is counted, which resource types are always shown, the codes
of gaps, the text cleaning that keeps hostile strings from AWS inert. The scanner writes
documents, the reports, the history and the evidence read them; this package imports none of
them.
"""
