"""Matching the paid calls with the wallet's USDC transfers (collect.md, "Reconciliation"): pure, no I/O.

- ``matched``: the call's transaction moved exactly its ``price_micro``
  between the consumer and the wallet (sellers: into it; buyers: out of it);
- ``missing_on_chain``: a paid call whose transaction is absent, failed, or
  moved another amount;
- ``unrecorded``: a transfer into or out of the wallet no call accounts for
  (``deposit``/``withdrawal`` when an event of that type names its hash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccanalytics.collect.payment import consumer_hash
from ccanalytics.units import usdc_text

__all__ = ["PaidCall", "Reconciliation", "Transfer", "match_transfers"]


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
        """Nothing missing on chain and nothing unrecorded."""
        return not self.missing_on_chain and not self.unrecorded

    def micro(self, name: str) -> int:
        """The micro-USDC of one list (``matched``, ``missing_on_chain``, ``unrecorded``)."""
        return sum(item["_micro"] for item in getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``ccanalytics reconcile``: the block range, the three lists and their totals."""
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
    >>> calls = [PaidCall("r1", "seller", 1000, tx, consumer_hash(payer))]
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
            and (call.role != "seller" or call.consumer is None or consumer_hash(t.sender) == call.consumer)
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
