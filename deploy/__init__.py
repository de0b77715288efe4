"""The scheduled deployment: its templates, the Lambda handler and the zip's build (not part of
the installed package)."""
