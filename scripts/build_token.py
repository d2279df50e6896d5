"""Rebuild the token artifacts in ``ccanalytics/contracts/`` from their Vyper sources.

``DemoUSDC.json`` (the demo chain's ERC-20) and ``EIP3009USDC.json`` (the
EIP-3009 token x402 settles against) are committed, so that running the demo
chain or the tests needs no compiler; ``vyper`` is only a tool for this script.

Usage::

    python scripts/build_token.py           # rewrite the artifacts
    python scripts/build_token.py --check   # exit 1 when an artifact is stale
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
# Each source and what its artifact holds: the EIP-3009 token also carries its
# runtime code, which `anvil_setCode` places at USDC's address.
OUTPUTS = {
    SOURCE: ["abi", "bytecode"],
    CONTRACTS / "EIP3009USDC.vy": ["abi", "bytecode", "bytecode_runtime"],
}


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
        notice a source edited without a rebuild), ``abi``, ``bytecode`` (and
        ``bytecode_runtime`` where ``OUTPUTS`` asks for it).
    """
    import vyper  # a build tool, not a runtime dependency of ccanalytics

    text = source.read_text(encoding="utf-8")
    formats = OUTPUTS.get(source, ["abi", "bytecode"])
    out = vyper.compile_code(text, output_formats=formats)
    artifact = {
        "contractName": source.stem,
        "compiler": f"vyper {vyper.__version__}",
        "source_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        **{name: out[name] for name in formats},
    }
    return json.dumps(artifact, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the artifact is up to date")
    args = parser.parse_args(argv)
    stale = 0
    for source in OUTPUTS:
        artifact, fresh = source.with_suffix(".json"), build(source)
        if args.check:
            current = artifact.read_text(encoding="utf-8") if artifact.exists() else ""
            if current != fresh:
                print(f"{artifact.name} is stale: run python scripts/build_token.py", file=sys.stderr)
                stale = 1
            else:
                print(f"{artifact.name} is up to date")
            continue
        artifact.write_text(fresh, encoding="utf-8")
        print(f"wrote {artifact}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
