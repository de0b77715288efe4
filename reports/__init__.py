"""Renderers: the scan document (scan.json) in, files and terminal output out.

Nothing here talks to AWS or judges anything, and nothing here imports `scanner`: a live
scan and `--from-json` render through exactly the same code.
"""
