"""Rebuild ``ccanalytics/contracts/DemoUSDC.json`` from ``DemoUSDC.vy`` with the Vyper compiler.

The artifact (ABI + deployment bytecode) is committed so that running the demo
chain or the tests needs no compiler; ``vyper`` is only a tool for this script.

Usage::

    python scripts/build_token.py           # rewrite the artifact
    python scripts/build_token.py --check   # exit 1 when the artifact is stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parent.parent / "ccanalytics" / "contracts"
SOURCE = CONTRACTS / "DemoUSDC.vy"
ARTIFACT = CONTRACTS / "DemoUSDC.json"


def build(source: Path = SOURCE) -> str:
    """Compile the token and return the artifact's JSON text.

    Parameters
    ----------
    source
        The Vyper source file.

    Returns
    -------
    str
        JSON with ``contractName``, ``compiler``, ``source_sha256`` (lets tests
        notice a source edited without a rebuild), ``abi`` and ``bytecode``.
    """
    import vyper  # a build tool, not a runtime dependency of ccanalytics

    text = source.read_text(encoding="utf-8")
    out = vyper.compile_code(text, output_formats=["abi", "bytecode"])
    artifact = {
        "contractName": source.stem,
        "compiler": f"vyper {vyper.__version__}",
        "source_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "abi": out["abi"],
        "bytecode": out["bytecode"],
    }
    return json.dumps(artifact, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the artifact is up to date")
    args = parser.parse_args(argv)
    fresh = build()
    if args.check:
        current = ARTIFACT.read_text(encoding="utf-8") if ARTIFACT.exists() else ""
        if current != fresh:
            print(f"{ARTIFACT.name} is stale: run python scripts/build_token.py", file=sys.stderr)
            return 1
        print(f"{ARTIFACT.name} is up to date")
        return 0
    ARTIFACT.write_text(fresh, encoding="utf-8")
    print(f"wrote {ARTIFACT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
