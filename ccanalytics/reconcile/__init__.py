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

Unless ``--dry-run`` the result is appended to the optional table
``reconciliations`` — the command's only write; the snapshot's
``reconciliation`` is that table's latest row before ``now``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccanalytics.contract import RECONCILIATION_COLUMNS, RECONCILIATIONS_DDL, USDC_BY_CHAIN
from ccanalytics.errors import CCError
from ccanalytics.units import now_ms, usdc_text

if TYPE_CHECKING:
    import os

__all__ = [
    "MAX_BLOCKS",
    "Reconciliation",
    "match_transfers",
    "reconcile",
]

MAX_BLOCKS = 2_000
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_TOO_LARGE = re.compile(
    r"range|too (large|many|big)|more than|exceed|limit|10000 results|response size|query timeout", re.IGNORECASE
)
_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Transfer:
    """One USDC ``Transfer`` log that moved money into or out of the wallet."""

    tx_hash: str
    log_index: int
    block: int
    sender: str  # lower-case 0x… address
    receiver: str
    value_micro: int


@dataclass(frozen=True)
class PaidCall:
    """A call with ``price_micro > 0``."""

    request_id: str
    role: str
    price_micro: int
    tx_hash: str | None
    consumer: str | None


@dataclass
class Reconciliation:
    """The result: the three lists and the range of blocks read."""

    from_block: int
    to_block: int
    matched: list[dict[str, Any]] = field(default_factory=list)
    missing_on_chain: list[dict[str, Any]] = field(default_factory=list)
    unrecorded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.missing_on_chain and not self.unrecorded

    def micro(self, name: str) -> int:
        return sum(item["_micro"] for item in getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        lists = ("matched", "missing_on_chain", "unrecorded")
        shown = {name: [_public(item) for item in getattr(self, name)] for name in lists}
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            **shown,
            "totals": {
                "matched": len(self.matched),
                "missing_on_chain": len(self.missing_on_chain),
                "unrecorded": len(self.unrecorded),
                **{f"{name}_usdc": usdc_text(self.micro(name)) for name in lists},
            },
        }


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "_micro"}


def _consumer_of(address: str) -> str:
    return hashlib.sha256(address.lower().encode("ascii")).hexdigest()


def match_transfers(
    calls: list[PaidCall],
    transfers: list[Transfer],
    wallet: str,
    named: dict[str, str],
    receipts: dict[str, int | None] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Match paid calls with transfers: ``(matched, missing_on_chain, unrecorded)``.

    ``named`` maps a transaction hash to the event type (``deposit``,
    ``withdrawal``) that names it; ``receipts`` maps the hash of a call found
    in no transfer to its receipt's status (``None``: no such transaction).
    A call whose transaction is outside the blocks read is in neither list
    (``receipts`` says ``-1``). Each transfer accounts for at most one call.

    Examples
    --------
    >>> wallet, payer = "0x" + "aa" * 20, "0x" + "bb" * 20
    >>> tx = "0x" + "01" * 32
    >>> transfers = [Transfer(tx, 0, 5, payer, wallet, 1000), Transfer("0x" + "02" * 32, 0, 6, payer, wallet, 7)]
    >>> calls = [PaidCall("r1", "seller", 1000, tx, _consumer_of(payer))]
    >>> matched, missing, unrecorded = match_transfers(calls, transfers, wallet, {})
    >>> [m["request_id"] for m in matched], missing, [(u["kind"], u["usdc"]) for u in unrecorded]
    (['r1'], [], [('transfer', '0.000007')])
    """
    wallet = wallet.lower()
    by_tx: dict[str, list[Transfer]] = {}
    for transfer in transfers:
        by_tx.setdefault(transfer.tx_hash, []).append(transfer)
    used: set[tuple[str, int]] = set()
    matched: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    receipts = receipts or {}
    for call in calls:
        item = {
            "request_id": call.request_id,
            "role": call.role,
            "tx_hash": call.tx_hash,
            "usdc": usdc_text(call.price_micro),
            "_micro": call.price_micro,
        }
        if call.tx_hash is None:
            missing.append({**item, "reason": "the call names no transaction"})
            continue
        moved = [t for t in by_tx.get(call.tx_hash.lower(), []) if (t.tx_hash, t.log_index) not in used]
        if call.role == "seller":
            moved = [t for t in moved if t.receiver == wallet]
        else:
            moved = [t for t in moved if t.sender == wallet]
        exact = [
            t
            for t in moved
            if t.value_micro == call.price_micro
            and (call.role != "seller" or call.consumer is None or _consumer_of(t.sender) == call.consumer)
        ]
        if exact:
            used.add((exact[0].tx_hash, exact[0].log_index))
            matched.append({**item, "block": exact[0].block})
            continue
        if moved:
            amounts = ", ".join(usdc_text(t.value_micro) or "" for t in moved)
            reason = f"the transaction moved {amounts} USDC, not {item['usdc']}"
            if all(t.value_micro == call.price_micro for t in moved):
                reason = "the transaction's payer is not the call's consumer"
            missing.append({**item, "reason": reason})
            continue
        status = receipts.get(call.tx_hash.lower())
        if status == -1:
            continue  # mined outside the blocks read: not this reconciliation's business
        if status is None:
            reason = "no such transaction on chain"
        elif status == 0:
            reason = "the transaction failed"
        else:
            direction = "into" if call.role == "seller" else "out of"
            reason = f"the transaction moved no USDC {direction} the wallet"
        missing.append({**item, "reason": reason})
    unrecorded = []
    for transfer in transfers:
        if (transfer.tx_hash, transfer.log_index) in used:
            continue
        incoming = transfer.receiver == wallet
        unrecorded.append(
            {
                "tx_hash": transfer.tx_hash,
                "kind": named.get(transfer.tx_hash, "transfer"),
                "direction": "in" if incoming else "out",
                "counterparty": transfer.sender if incoming else transfer.receiver,
                "block": transfer.block,
                "usdc": usdc_text(transfer.value_micro),
                "_micro": transfer.value_micro,
            }
        )
    return matched, missing, unrecorded


# -- reading the store ----------------------------------------------------------


def _read_store(path: Path) -> tuple[dict[str, str], list[PaidCall], dict[str, str]]:
    """The settings, the valid paid calls (oldest first) and the hashes deposit/withdrawal events name."""
    import polars as pl

    from ccanalytics.store.store import open_store

    store = open_store(path, cache=False)
    try:
        settings = {k: v for k, v in store.settings.collect().iter_rows() if v is not None}
        calls = (
            store.calls.filter(pl.col("price_micro") > 0)
            .select("request_id", "role", "price_micro", "tx_hash", "consumer", "ts_ms")
            .collect()
            .sort("ts_ms", maintain_order=True)
        )
        kinds = pl.col("type").is_in(["deposit", "withdrawal"])
        events = store.events.filter(kinds).select("type", "message").collect()
    finally:
        store.close()
    paid = [
        PaidCall(rid, role, price, tx.lower() if tx and _HASH.fullmatch(tx) else None, consumer)
        for rid, role, price, tx, consumer, _ in calls.iter_rows()
    ]
    named: dict[str, str] = {}
    for kind, message in events.iter_rows():
        for found in _HASH.findall(message or ""):
            named[found.lower()] = kind
    return settings, paid, named


# -- reading the chain -------------------------------------------------------------


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address.lower()[2:]


def _is_too_large(exc: Exception) -> bool:
    from web3.exceptions import Web3RPCError

    if isinstance(exc, Web3RPCError):
        error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else str(error or "")
        return code in (-32005, -32600, -32602) or bool(_TOO_LARGE.search(str(message)))
    return bool(_TOO_LARGE.search(str(exc)))


def get_logs_chunked(get_logs: Any, params: dict[str, Any], start: int, end: int, chunk: int = MAX_BLOCKS) -> list[Any]:
    """``get_logs(params)`` over ``[start, end]`` in chunks of at most ``chunk`` blocks.

    A chunk the node refuses as too large is retried halved, down to one
    block (then the error is raised).

    Examples
    --------
    >>> asked = []
    >>> def get_logs(p):
    ...     asked.append((p["fromBlock"], p["toBlock"]))
    ...     if p["toBlock"] - p["fromBlock"] >= 1000:
    ...         raise ValueError("query exceeds max block range 1000")
    ...     return [p["fromBlock"]]
    >>> get_logs_chunked(get_logs, {}, 0, 2500)
    [0, 1000, 2000]
    >>> asked
    [(0, 1999), (0, 999), (1000, 1999), (2000, 2500)]
    """
    found: list[Any] = []
    size = max(1, min(chunk, MAX_BLOCKS))
    low = start
    while low <= end:
        high = min(end, low + size - 1)
        try:
            found.extend(get_logs({**params, "fromBlock": low, "toBlock": high}))
        except Exception as exc:
            if high > low and _is_too_large(exc):
                size = max(1, (high - low + 1) // 2)
                continue
            raise
        low = high + 1
    return found


def _transfers(w3: Any, token: str, wallet: str, start: int, end: int) -> list[Transfer]:
    logs = []
    for topics in ([TRANSFER_TOPIC, None, _topic(wallet)], [TRANSFER_TOPIC, _topic(wallet)]):
        logs += get_logs_chunked(w3.eth.get_logs, {"address": token, "topics": topics}, start, end)
    seen: dict[tuple[str, int], Transfer] = {}
    for entry in logs:
        topics = entry["topics"]
        if len(topics) < 3 or entry.get("removed"):
            continue
        tx = "0x" + bytes(entry["transactionHash"]).hex().removeprefix("0x")
        data = bytes(entry["data"])
        transfer = Transfer(
            tx_hash=tx.lower(),
            log_index=int(entry["logIndex"]),
            block=int(entry["blockNumber"]),
            sender="0x" + bytes(topics[1])[-20:].hex(),
            receiver="0x" + bytes(topics[2])[-20:].hex(),
            value_micro=int.from_bytes(data[:32], "big") if data else 0,
        )
        seen[(transfer.tx_hash, transfer.log_index)] = transfer  # a self-transfer shows in both queries
    return sorted(seen.values(), key=lambda t: (t.block, t.log_index))


def _receipt_status(w3: Any, tx_hash: str, start: int, end: int) -> int | None:
    """1 or 0 for a transaction mined in ``[start, end]``, -1 outside it, ``None`` when unknown."""
    from web3.exceptions import TransactionNotFound

    try:
        receipt = w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None
    if receipt is None:
        return None
    if not start <= int(receipt["blockNumber"]) <= end:
        return -1
    return int(receipt["status"])


def _reason(exc: BaseException) -> str:
    """A few words on why a chain read failed; never the library's message (it may quote the URL)."""
    import requests
    from web3.exceptions import Web3RPCError

    if isinstance(exc, requests.Timeout):
        return f"unreachable: timed out after {_TIMEOUT_S:g} s"
    if isinstance(exc, requests.ConnectionError):
        refused = "refused" in repr(exc).lower()
        return "unreachable: connection refused" if refused else "unreachable: connection failed"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"answered HTTP {exc.response.status_code}"
    if isinstance(exc, Web3RPCError):
        error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return f"returned error {code}" if isinstance(code, int) else "returned an error"
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return "gave an answer that is not JSON-RPC"
    return f"failed ({type(exc).__name__})"


def _connect(rpc_url: str) -> Any:
    import requests
    from web3 import HTTPProvider, Web3

    session = requests.Session()
    provider = HTTPProvider(
        rpc_url, session=session, request_kwargs={"timeout": _TIMEOUT_S}, exception_retry_configuration=None
    )
    return Web3(provider, middleware=[])


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
    settings, calls, named = _read_store(path)
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
    for name, value in (("--from-block", from_block), ("--to-block", to_block)):
        if value is not None and value < 0:
            raise CCError(f"{name} must be 0 or more")
    if from_block is not None and to_block is not None and from_block > to_block:
        raise CCError("--from-block is after --to-block")

    shown = mask_rpc_url(rpc_url)
    failure = None
    try:
        w3 = _connect(rpc_url)
        actual = int(w3.eth.chain_id)
        latest = int(w3.eth.block_number)
        if actual == chain_id:
            start = 0 if from_block is None else from_block
            end = latest if to_block is None else min(to_block, latest)
            transfers = _transfers(w3, to_checksum_address(token), wallet, start, end) if start <= end else []
            found = {t.tx_hash for t in transfers}
            receipts = {
                call.tx_hash: _receipt_status(w3, call.tx_hash, start, end)
                for call in calls
                if call.tx_hash is not None and call.tx_hash not in found
            }
    except Exception as exc:
        failure = _reason(exc)
    if failure is not None:
        raise CCError(f"RPC endpoint {shown} {failure}")
    if actual != chain_id:
        raise CCError(f"RPC endpoint {shown} serves chain {actual}, but the settings say chain_id {chain_id}")

    matched, missing, unrecorded = match_transfers(calls, transfers, wallet, named, receipts)
    result = Reconciliation(start, end, matched, missing, unrecorded)
    if not dry_run:
        _append(path, result)
    return result


def _append(path: Path, result: Reconciliation) -> None:
    row = (
        now_ms(),
        result.from_block,
        result.to_block,
        len(result.matched),
        len(result.missing_on_chain),
        len(result.unrecorded),
        result.micro("matched"),
        result.micro("missing_on_chain"),
        result.micro("unrecorded"),
    )
    try:
        con = sqlite3.connect(path, timeout=5)
        try:
            with con:
                con.execute(RECONCILIATIONS_DDL)
                columns = ", ".join(RECONCILIATION_COLUMNS)
                con.execute(f"INSERT INTO reconciliations ({columns}) VALUES ({', '.join('?' * 9)})", row)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise CCError(f"{path}: cannot record the reconciliation ({exc}); --dry-run writes nothing") from None
