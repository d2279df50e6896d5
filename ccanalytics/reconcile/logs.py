"""The chain's side of a reconciliation: the wallet's USDC ``Transfer`` logs and receipts, over web3.

Logs are read with ``get_logs`` in chunks of at most ``MAX_BLOCKS`` blocks,
halved while a node refuses a range as too large.  A failed read is told in a
few words of ours (``failure_reason``), never the library's (it may quote the URL).
"""

from __future__ import annotations

import re
from typing import Any

from ccanalytics.reconcile.matching import Transfer

__all__ = [
    "MAX_BLOCKS",
    "TRANSFER_TOPIC",
    "connect",
    "failure_reason",
    "get_logs_chunked",
    "read_transfers",
    "receipt_status",
]

MAX_BLOCKS = 2_000
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_TOO_LARGE = re.compile(
    r"range|too (large|many|big)|more than|exceed|limit|10000 results|response size|query timeout", re.IGNORECASE
)
_TIMEOUT_S = 10.0


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


def read_transfers(w3: Any, token: str, wallet: str, start: int, end: int) -> list[Transfer]:
    """The USDC transfers into and out of ``wallet`` in blocks ``[start, end]``, each once, in chain order."""
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


def receipt_status(w3: Any, tx_hash: str, start: int, end: int) -> int | None:
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


def failure_reason(exc: BaseException) -> str:
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


def connect(rpc_url: str) -> Any:
    """A web3 client of ``rpc_url``: one deadline per request, no retries, no middleware."""
    import requests
    from web3 import HTTPProvider, Web3

    session = requests.Session()
    provider = HTTPProvider(
        rpc_url, session=session, request_kwargs={"timeout": _TIMEOUT_S}, exception_retry_configuration=None
    )
    return Web3(provider, middleware=[])
