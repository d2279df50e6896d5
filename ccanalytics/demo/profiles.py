"""The demo node's profiles: its APIs, its daily rhythm, and the units of its messages.

Pure data (and two tiny draws): what the history and the live traffic are drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

__all__ = ["APIS", "DEMO_WALLET", "RHYTHMS", "TIMEOUT_MS", "Api", "Burst", "Rhythm", "gas_wei", "usdc_message"]

DEMO_WALLET = "0xcC30a401DCAB96c0877FB64c27966C137B9367D0"
"""The demo node's wallet (a valid EIP-55 checksum, so web3 accepts it)."""

MINUTE_MS = 60_000
TIMEOUT_MS = 15_000  # the proxy gives up after this long and answers 504
USDC = 1_000_000  # micro-USDC per USDC
COMMISSION_PERCENT = 5  # the reference platform keeps 5 % of each paid call


@dataclass(frozen=True)
class Api:
    """One API of the demo: who owns it, its price and how it behaves."""

    api_id: str
    name: str
    role: str  # "seller": this node's own API; "buyer": bought from the marketplace
    price_micro: int
    median_ms: float  # latency is log-normal around this median
    sigma: float
    weight: float  # share of its role's calls
    fail_rate: float  # share of 502s outside error bursts
    old_name: str | None = None  # name shown before it was renamed, halfway through the history
    from_frac: float = 0.0  # seller APIs: registered at this fraction of the history (0 = before it)
    until_frac: float | None = None  # seller APIs: unregistered at this fraction (None = still active)


# fmt: off
APIS: tuple[Api, ...] = (
    # api_id, name, role, price_micro, median_ms, sigma, weight, fail_rate
    Api("bb-sse-ticker", "BB Ticker Stream (SSE)", "seller", 500, 42, 0.45, 0.48, 0.004),
    Api("bb-graphql", "BB GraphQL Gateway", "seller", 2_000, 165, 0.55, 0.26, 0.006),
    Api("bb-orderbook", "BB Order Book Snapshot", "seller", 1_000, 88, 0.5, 0.16, 0.005, from_frac=0.4),
    Api("bb-candles-v1", "BB Candles v1", "seller", 800, 120, 0.5, 0.10, 0.008, until_frac=0.6),
    Api("wx-current", "Weather: Current Conditions", "buyer", 300, 118, 0.5, 0.22, 0.006,
         old_name="Weather Now"),
    Api("wx-forecast-7d", "Weather: 7-Day Forecast", "buyer", 800, 240, 0.55, 0.10, 0.006),
    Api("geo-forward", "Geocoding (address to coordinates)", "buyer", 200, 80, 0.45, 0.18, 0.004),
    Api("geo-reverse", "Reverse Geocoding", "buyer", 250, 95, 0.45, 0.10, 0.004),
    Api("llm-summarize", "LLM Summarize", "buyer", 8_000, 2_600, 0.55, 0.12, 0.012),
    Api("llm-embed", "Text Embeddings", "buyer", 400, 310, 0.4, 0.14, 0.005),
    Api("ocr-receipt", "Receipt OCR", "buyer", 5_000, 1_800, 0.7, 0.06, 0.015),
    Api("wallet-screen", "Wallet Risk Screening", "buyer", 10_000, 650, 0.6, 0.08, 0.008),
)
# fmt: on
BY_ID = {api.api_id: api for api in APIS}


@dataclass(frozen=True)
class Rhythm:
    """How many calls of one role a day brings, hour by hour of local time."""

    per_day: float
    shape: tuple[float, ...]  # 24 relative weights, local hours 0..23
    weekend: float  # Saturday and Sunday bring this share of a weekday

    def per_hour(self, local_hour: int) -> float:
        return self.per_day / 24 * self.shape[local_hour] * 24 / sum(self.shape)


# The operator's own apps buy in its working day; its APIs serve consumers in
# many time zones, so the seller rhythm is flatter.
# fmt: off
RHYTHMS = {
    "buyer": Rhythm(
        1_250,
        (0.15, 0.1, 0.1, 0.1, 0.12, 0.2, 0.45, 0.8, 1.25, 1.6, 1.75, 1.7,
         1.5, 1.65, 1.75, 1.7, 1.55, 1.3, 1.05, 0.85, 0.7, 0.55, 0.4, 0.25),
        0.55,
    ),
    "seller": Rhythm(
        2_050,
        (0.55, 0.5, 0.45, 0.45, 0.5, 0.6, 0.75, 0.9, 1.1, 1.25, 1.35, 1.4,
         1.4, 1.45, 1.5, 1.5, 1.45, 1.35, 1.25, 1.15, 1.0, 0.85, 0.7, 0.6),
        0.85,
    ),
}
# fmt: on
DEMO_SHARE = {"buyer": 0.04, "seller": 0.10}  # free demo-mode calls
DELIVERIES = ("p2p", "cloud-relay", "onchain-relay")
DELIVERY_CUM = (0.55, 0.90, 1.0)
DELIVERY_EXTRA_MS = (0.0, 30.0, 850.0)  # what the route adds to the round trip
CONSUMERS = 60  # distinct wallets calling the node's APIs


@dataclass(frozen=True)
class Burst:
    """A stretch of time in which one API mostly fails."""

    api_id: str
    start_ms: int
    end_ms: int
    status: int


def gas_wei(rng: random.Random) -> int:
    """Gas one settlement costs on Base: roughly 0.0000001 ETH."""
    return 60_000_000_000 + rng.getrandbits(36)


def usdc_message(micro: int) -> str:
    """Money for a message: ``50.00 USDC``, ``0.9995 USDC`` (never rounded up to the threshold)."""
    whole, frac = divmod(micro, USDC)
    return f"{whole}.{f'{frac:06d}'.rstrip('0').ljust(2, '0')} USDC"
