"""Unit tests of ``ccanalytics.cli``: one file per command, run in-process through ``main``."""
