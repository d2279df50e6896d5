"""Live balances from the chain: the wallet's ETH and its USDC, read over JSON-RPC.

An RPC URL often carries an API key in its path or query, so the URL is never
shown as given: every message, log line and exception this module produces
names the endpoint through :func:`mask_rpc_url`, and the errors of web3,
requests and urllib3 (which quote the URL) are replaced, never passed on.

>>> mask_rpc_url("https://base-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyz")
'https://base-mainnet.g.alchemy.com/v2/***'
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ChainBalances", "ChainError", "ChainIdMismatch", "mask_rpc_url", "read_balances"]

USDC_DECIMALS = 6

# Only what a balance read needs: the token's decimals (checked, so that a
# wrong contract cannot be shown as micro-USDC) and the wallet's balance.
ERC20_BALANCE_ABI = [
    {
        "type": "function",
        "name": "balanceOf",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
]

MASK = "***"


class ChainError(CCError):
    """A balance read failed; the message is one line and names the endpoint masked."""


class ChainIdMismatch(ChainError):
    """The endpoint serves another chain than the settings' ``chain_id`` (a data issue).

    Attributes
    ----------
    actual
        The chain id the endpoint reports.
    expected
        The ``chain_id`` the settings name.
    """

    def __init__(self, message: str, *, actual: int, expected: int) -> None:
        super().__init__(message)
        self.actual = actual
        self.expected = expected


@dataclass(frozen=True)
class ChainBalances:
    """The wallet's balances as read from the chain, in integer base units.

    Attributes
    ----------
    usdc_micro
        USDC balance in micro-USDC (10⁻⁶ USDC).
    eth_wei
        ETH balance in wei (10⁻¹⁸ ETH).
    read_at_ms
        When the read finished, epoch milliseconds (UTC).
    """

    usdc_micro: int
    eth_wei: int
    read_at_ms: int


# -- masking ------------------------------------------------------------------


def _looks_like_key(segment: str) -> bool:
    # Keys are long or mix digits into a word ("v2", "base", "rpc" stay; an
    # Alchemy, Infura, QuickNode or Ankr key never looks like that).
    return len(segment) >= 20 or (len(segment) >= 8 and any(c.isdigit() for c in segment))


def _split_secrets(url: str) -> tuple[str, list[str]]:
    """Return the masked URL and the secret substrings it hid."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return MASK, [url]
    secrets: list[str] = []
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        secrets.append(userinfo)
        hostport = f"{MASK}@{hostport}"
    segments = []
    for segment in parts.path.split("/"):
        if _looks_like_key(segment):
            secrets.append(segment)
            segments.append(MASK)
        else:
            segments.append(segment)
    masked = f"{parts.scheme}://{hostport}" if parts.scheme else hostport
    masked += "/".join(segments)
    if parts.query:
        pairs = []
        for pair in parts.query.split("&"):
            name, eq, value = pair.partition("=")
            if eq:
                secrets.append(value)
                pairs.append(f"{name}={MASK}")
            else:
                # A bare query token ("?abc123…") is as likely a key as a value.
                secrets.append(name)
                pairs.append(MASK)
        masked += "?" + "&".join(pairs)
    if parts.fragment:
        secrets.append(parts.fragment)
        masked += f"#{MASK}"
    return masked, [s for s in secrets if s]


def mask_rpc_url(url: str) -> str:
    """Show an RPC URL without its secrets.

    Keeps the scheme, host and port; masks the userinfo, every path segment
    that looks like a key (20+ characters, or 8+ with a digit), every query
    value and the fragment. Never raises.

    Parameters
    ----------
    url
        The endpoint as configured (``settings.rpc_url``).

    Returns
    -------
    str
        The URL safe to print, log or show.

    Examples
    --------
    >>> mask_rpc_url("http://127.0.0.1:8545")
    'http://127.0.0.1:8545'
    >>> mask_rpc_url("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef")
    'https://mainnet.infura.io/v3/***'
    >>> mask_rpc_url("https://user:pa55@rpc.example.org/base?apikey=s3cret&x=1")
    'https://***@rpc.example.org/base?apikey=***&x=***'
    """
    return _split_secrets(url)[0]


def _scrub(text: str, secrets: list[str]) -> str:
    """Hide each secret found in free text (a log line, a server's error message).

    Values under 6 characters (``?chain=1``) are hidden in the URL itself but
    not hunted in text, where replacing every "1" would garble it; no API key
    is that short.
    """
    # Longest first, so that a secret containing a shorter one is hidden whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, MASK)
    return text


class _SecretFilter(logging.Filter):
    """Masks known RPC secrets in records of the libraries that log request URLs.

    web3's HTTPProvider logs its endpoint URI and urllib3 logs each request
    path at DEBUG level; a logger's filter runs before the record reaches any
    handler, so the secret never gets out even when a user turns DEBUG on.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: list[str]) -> None:
        with self._lock:
            self._secrets.update(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = list(self._secrets)
        if secrets:
            message = record.getMessage()
            scrubbed = _scrub(message, secrets)
            if scrubbed != message:
                record.msg, record.args = scrubbed, ()
        return True


_LOGGERS_THAT_QUOTE_URLS = (
    "web3.providers.HTTPProvider",
    "web3._utils.http_session_manager.HTTPSessionManager",
    "urllib3.connectionpool",
    "urllib3.util.retry",
)
_secret_filter = _SecretFilter()
for _name in _LOGGERS_THAT_QUOTE_URLS:
    logging.getLogger(_name).addFilter(_secret_filter)


# -- reading ------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything behind it: causes, contexts, and the errors
    requests and urllib3 wrap in ``args`` or ``reason``."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _reason(exc: BaseException, timeout_s: float, secrets: list[str]) -> str:
    """Say in a few secret-free words why a read failed (never the library's own message)."""
    import requests
    import urllib3
    from web3.exceptions import (
        BadFunctionCallOutput,
        BadResponseFormat,
        ContractLogicError,
        TimeExhausted,
        Web3RPCError,
    )

    budget = f"timed out after {timeout_s:g} s"
    if isinstance(exc, (requests.Timeout, TimeExhausted, TimeoutError)):
        return f"unreachable: {budget}"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.ConnectionError):
        causes = list(_causes(exc))
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return "unreachable: connection refused"
        if any(isinstance(c, socket.gaierror) for c in causes):
            return "unreachable: host not found"
        # A timeout while reading the body arrives as a ConnectionError. (urllib3's
        # NewConnectionError is a timeout error by inheritance only.)
        timeouts = (TimeoutError, urllib3.exceptions.TimeoutError)
        if any(isinstance(c, timeouts) and not isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
            return f"unreachable: {budget}"
        return "unreachable: connection failed"
    if isinstance(exc, (BadFunctionCallOutput, ContractLogicError)):
        return "has no USDC contract at usdc_address"
    if isinstance(exc, Web3RPCError):
        error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else error or ""
        # The server's own words, on one line, in case it quotes the key back.
        text = " ".join(_scrub(str(message), secrets).split())[:200]
        return f"returned an error: {text}" if text else "returned an error"
    if isinstance(exc, (BadResponseFormat, ValueError, KeyError, IndexError, TypeError, AttributeError)):
        # web3 trips over a body that is not JSON, or JSON that is not a JSON-RPC answer.
        return "gave an answer that is not JSON-RPC"
    return f"failed ({type(exc).__name__})"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when the port is not a port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _checksum(address: str, setting: str) -> str:
    from eth_utils import is_address, to_checksum_address

    if not isinstance(address, str) or not is_address(address):
        shown = address[:60] if isinstance(address, str) else address
        raise ChainError(f"{setting} {shown!r} is not an Ethereum address")
    return to_checksum_address(address)


def read_balances(rpc_url: str, wallet: str, usdc_address: str, chain_id: int, timeout_s: float = 5.0) -> ChainBalances:
    """Read the wallet's ETH and USDC balances, exact to the unit, within ``timeout_s``.

    Sends four JSON-RPC requests one after another (``eth_chainId``, then
    ``decimals()``, ``balanceOf(wallet)`` and ``eth_getBalance``), each
    allowed only what is left of the one overall budget, with no retries.

    Parameters
    ----------
    rpc_url
        The HTTP(S) JSON-RPC endpoint; may contain an API key (never shown).
    wallet
        The wallet address, ``0x…`` (any case).
    usdc_address
        The USDC ERC-20 contract on that chain.
    chain_id
        The chain the settings expect; the endpoint must report the same.
    timeout_s
        Budget for the whole read, in seconds.

    Returns
    -------
    ChainBalances
        ``usdc_micro`` and ``eth_wei`` as integers.

    Raises
    ------
    ChainIdMismatch
        The endpoint serves another chain.
    ChainError
        The endpoint is unreachable, too slow, answers with an error, has no
        6-decimal token at ``usdc_address``, or an address is malformed. The
        message is one line, names the endpoint masked and carries no text
        from the underlying libraries.

    Examples
    --------
    A read of the embedded demo chain (see :mod:`ccanalytics.demochain`):

    >>> from ccanalytics.demochain import DemoChain
    >>> with DemoChain.start() as demo:
    ...     read = read_balances(demo.rpc_url, demo.wallet_address, demo.usdc_address, demo.chain_id)
    >>> read.usdc_micro, read.eth_wei
    (25000000, 4200000000000000)

    Nothing listens on port 1; the key in the path is not shown:

    >>> read_balances("http://127.0.0.1:1/v2/AbCdEf0123456789xyz", "0x" + "11" * 20, "0x" + "22" * 20, 8453)
    Traceback (most recent call last):
    ...
    ccanalytics.chain.ChainError: RPC endpoint http://127.0.0.1:1/v2/*** unreachable: connection refused
    """
    shown, secrets = _split_secrets(rpc_url)
    _secret_filter.add(secrets)
    where = f"RPC endpoint {shown}"
    if not _is_http_url(rpc_url.strip()):
        raise ChainError(f"{where} is not an http:// or https:// URL")
    wallet = _checksum(wallet, "wallet_address")
    usdc_address = _checksum(usdc_address, "usdc_address")

    failure: str | None = None
    try:
        read = _read(rpc_url.strip(), wallet, usdc_address, chain_id, timeout_s)
    except Exception as exc:
        # The message is built here but raised below, outside this block, so that
        # the library's exception (which quotes the URL) is not even chained.
        failure = _reason(exc, timeout_s, secrets)
    if failure is not None:
        raise ChainError(f"{where} {failure}")
    if isinstance(read, int):
        raise ChainIdMismatch(
            f"{where} serves chain {read}, but the settings say chain_id {chain_id}",
            actual=read,
            expected=chain_id,
        )
    decimals, usdc_micro, eth_wei = read
    if decimals != USDC_DECIMALS:
        raise ChainError(
            f"{where}: the token at usdc_address {usdc_address} has {decimals} decimals, not {USDC_DECIMALS}"
        )
    return ChainBalances(usdc_micro=usdc_micro, eth_wei=eth_wei, read_at_ms=time.time_ns() // 1_000_000)


def _read(rpc_url: str, wallet: str, usdc_address: str, chain_id: int, timeout_s: float) -> int | tuple[int, int, int]:
    """The endpoint's chain id when it is not ``chain_id``, else the token's decimals,
    the token balance and the ETH balance. Raises the libraries' own errors."""
    import requests
    from web3 import HTTPProvider, Web3
    from web3.exceptions import TimeExhausted

    deadline = time.monotonic() + timeout_s

    class DeadlineProvider(HTTPProvider):
        # urllib3's `total` bounds connecting plus waiting for the answer; each
        # request gets only what is left of the overall budget.
        def get_request_kwargs(self) -> dict[str, Any]:
            from urllib3.util import Timeout

            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeExhausted
            kwargs = dict(super().get_request_kwargs())
            kwargs["timeout"] = Timeout(total=left)
            return kwargs

    with requests.Session() as session:
        # No retries: web3 would otherwise retry five times with back-off.
        provider = DeadlineProvider(rpc_url, session=session, exception_retry_configuration=None)
        # No middleware: nothing but the four requests below goes out.
        w3 = Web3(provider, middleware=[])
        actual = int(w3.eth.chain_id)
        if actual != chain_id:
            # Checked first: on another chain the token calls would fail for the wrong reason.
            return actual
        token = w3.eth.contract(address=usdc_address, abi=ERC20_BALANCE_ABI)
        decimals = token.functions.decimals().call()
        usdc_micro = token.functions.balanceOf(wallet).call()
        eth_wei = w3.eth.get_balance(wallet)
    return int(decimals), int(usdc_micro), int(eth_wei)
