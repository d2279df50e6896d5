"""``ccanalytics reconcile``: the store's paid calls against the USDC transfers on chain (collect.md).

The wallet's USDC ``Transfer`` logs (to and from it) are read with web3
``get_logs`` in chunks of at most 2 000 blocks (halved while a node refuses a
range as too large) and matched with the paid calls' ``tx_hash``:

- ``matched``: the call's transaction moved exactly its ``price_micro``
  between the consumer and the wallet (sellers: into it; buyers: out of it);
- ``missing_on_chain``: a paid call whose transaction is absent, failed, or
  moved another amount;
- ``unrecorded``: a transfer into or out of the wallet no call accounts for
  (``deposit``/``withdrawal`` when an event of that type names its hash).

The chain is read in ``ccanalytics.reconcile.logs``, the store in ``.records``;
the matching (pure) is ``.matching``.

Unless ``--dry-run`` the result is appended to the optional table
``reconciliations`` — the command's only write; the snapshot's
``reconciliation`` is that table's latest row before ``now``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ccanalytics.contract import USDC_BY_CHAIN
from ccanalytics.errors import CCError
from ccanalytics.reconcile.logs import MAX_BLOCKS, connect, failure_reason, read_transfers, receipt_status
from ccanalytics.reconcile.matching import Reconciliation, match_transfers
from ccanalytics.reconcile.records import append_result, read_store

if TYPE_CHECKING:
    import os

__all__ = [
    "MAX_BLOCKS",
    "Reconciliation",
    "match_transfers",
    "reconcile",
]


def reconcile(
    path: str | os.PathLike[str],
    from_block: int | None = None,
    to_block: int | None = None,
    *,
    dry_run: bool = False,
) -> Reconciliation:
    """Reconcile a store's paid calls with the chain; append the result unless ``dry_run``.

    Parameters
    ----------
    path
        The store; its settings name ``wallet_address``, ``rpc_url``,
        ``chain_id`` and ``usdc_address`` (``StoreWriter(path, settings=…)``).
    from_block, to_block
        The blocks to read (default: from 0 to the latest block).
    dry_run
        Write nothing.

    Raises
    ------
    CCError
        A setting is missing or wrong, the endpoint serves another chain or
        cannot be read (one line; the URL shown without its secrets).
    """
    from eth_utils import is_address, to_checksum_address

    from ccanalytics.chain import mask_rpc_url

    path = Path(path)
    settings, calls, named = read_store(path)
    wallet, rpc_url = settings.get("wallet_address"), settings.get("rpc_url")
    for key, value in (("wallet_address", wallet), ("rpc_url", rpc_url)):
        if not value:
            raise CCError(f"{path}: settings lack {key} (StoreWriter(path, settings={{...}}) writes it)")
    assert wallet is not None and rpc_url is not None
    chain_id_text = settings.get("chain_id", "8453")
    if not chain_id_text.isdigit():
        raise CCError(f"{path}: settings' chain_id {chain_id_text!r} is not an integer")
    chain_id = int(chain_id_text)
    token = settings.get("usdc_address") or USDC_BY_CHAIN.get(chain_id)
    if token is None:
        raise CCError(f"{path}: settings lack usdc_address for chain {chain_id}")
    for key, value in (("wallet_address", wallet), ("usdc_address", token)):
        if not is_address(value):
            raise CCError(f"{path}: settings' {key} {value[:60]!r} is not an address")
    for name, block in (("--from-block", from_block), ("--to-block", to_block)):
        if block is not None and block < 0:
            raise CCError(f"{name} must be 0 or more")
    if from_block is not None and to_block is not None and from_block > to_block:
        raise CCError("--from-block is after --to-block")

    shown = mask_rpc_url(rpc_url)
    failure = None
    try:
        w3 = connect(rpc_url)
        actual = int(w3.eth.chain_id)
        latest = int(w3.eth.block_number)
        if actual == chain_id:
            start = 0 if from_block is None else from_block
            end = latest if to_block is None else min(to_block, latest)
            transfers = read_transfers(w3, to_checksum_address(token), wallet, start, end) if start <= end else []
            found = {t.tx_hash for t in transfers}
            receipts = {
                call.tx_hash: receipt_status(w3, call.tx_hash, start, end)
                for call in calls
                if call.tx_hash is not None and call.tx_hash not in found
            }
    except Exception as exc:
        failure = failure_reason(exc)
    if failure is not None:
        raise CCError(f"RPC endpoint {shown} {failure}")
    if actual != chain_id:
        raise CCError(f"RPC endpoint {shown} serves chain {actual}, but the settings say chain_id {chain_id}")

    matched, missing, unrecorded = match_transfers(calls, transfers, wallet, named, receipts)
    result = Reconciliation(start, end, matched, missing, unrecorded)
    if not dry_run:
        append_result(path, result)
    return result
