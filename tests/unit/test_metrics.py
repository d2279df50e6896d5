"""``ccanalytics.metrics``: pure polars, frames in and frames out; nothing in it opens a file or a socket."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import ccanalytics.metrics

PACKAGE = Path(ccanalytics.metrics.__file__).parent
# What opening a file, a socket or a process would need.
IO_MODULES = {"sqlite3", "socket", "urllib", "http", "httpx", "subprocess", "shutil", "tempfile", "io", "os", "pathlib"}
IO_CALLS = {"open", "read_csv", "read_parquet", "read_ndjson", "read_database", "scan_csv", "scan_parquet",
            "scan_ndjson", "write_csv", "write_parquet", "write_ndjson", "sink_parquet", "sink_csv"}  # fmt: skip


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("*.py") if p.name != "__init__.py")


def test_every_metrics_module_imports() -> None:
    assert len(modules()) >= 10
    for path in modules():
        assert importlib.import_module(f"ccanalytics.metrics.{path.stem}")


def test_no_metrics_module_imports_io_or_calls_a_reader_or_writer() -> None:
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                names = [f"call:{name}"] if name in IO_CALLS else []
            else:
                continue
            found += [f"{path.name}: {n}" for n in names if n.startswith("call:") or n.split(".")[0] in IO_MODULES]
    assert not found, found
