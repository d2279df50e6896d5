"""Unit tests of ``ccanalytics.metrics``: one file per module."""
