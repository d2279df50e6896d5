"""Live balances from the chain: the wallet's ETH and its USDC, read over JSON-RPC.

An RPC URL often carries an API key in its path or query, so the URL is never
shown as given: every message, log line and exception this module produces
names the endpoint through :func:`mask_rpc_url`, and an endpoint's own error
text is shown only with every secret of the URL (user, password, their
Basic-auth form, keys, URL-encoded forms) masked. Requests go through
:mod:`ccanalytics.chain.rpc`: one wall-clock deadline for the whole read, bounded
answers. Answers no chain can give (a negative balance, the all-ones word)
are refused, never shown as live.

>>> mask_rpc_url("https://base-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyz")
'https://base-mainnet.g.alchemy.com/v2/***'
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from ccanalytics.chain import rpc
from ccanalytics.chain.rpc import Deadline, RPCFailure
from ccanalytics.errors import CCError

__all__ = ["ChainBalances", "ChainError", "ChainIdMismatch", "mask_rpc_url", "read_balances"]

USDC_DECIMALS = 6

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

# A path segment kept as it is: a version ("v2"), a number ("8453"), or short
# lowercase words ("base", "base-mainnet"), or a host name (a URL without its
# scheme starts with one). Anything else may be a key — long, mixed-case, with
# digits, or letters only — and is masked.
_PLAIN_SEGMENT = re.compile(r"v\d{1,2}|\d{1,6}|[a-z]{1,7}(?:[-_][a-z]{1,7})*|[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+")
# Secrets shorter than this are masked in the URL but not hunted in free text,
# where replacing every "1" or "eth" would garble it.
_MIN_HUNTED = 4


def _looks_like_key(segment: str) -> bool:
    return bool(segment) and _PLAIN_SEGMENT.fullmatch(segment) is None


def _encodings(secret: str) -> set[str]:
    """A secret as it may come back in an answer: raw, URL-decoded, URL-encoded."""
    forms = {secret, unquote(secret), unquote_plus(secret)}
    for form in list(forms):
        forms.update({quote(form, safe=""), quote_plus(form, safe="")})
    return forms


def _userinfo_secrets(userinfo: str) -> set[str]:
    """User, password, both, and the Basic-auth header value they make."""
    user, colon, password = userinfo.partition(":")
    found = {userinfo, user, password}
    pairs = {userinfo, f"{unquote(user)}:{unquote(password)}"} if colon else {userinfo, unquote(userinfo)}
    for pair in pairs:
        encoded = base64.b64encode(pair.encode()).decode()
        found.update({encoded, encoded.rstrip("=")})
    return found


def _split_secrets(url: str) -> tuple[str, list[str]]:
    """Return the masked URL and the secret substrings it hid (with their encodings)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return MASK, sorted(_encodings(url))
    secrets: set[str] = set()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        secrets.update(_userinfo_secrets(userinfo))
        hostport = f"{MASK}@{hostport}"
    segments = []
    for segment in parts.path.split("/"):
        if _looks_like_key(segment):
            secrets.add(segment)
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
                secrets.add(value)
                pairs.append(f"{name}={MASK}")
            else:
                # A bare query token ("?abc123…") is as likely a key as a value.
                secrets.add(name)
                pairs.append(MASK)
        masked += "?" + "&".join(pairs)
    if parts.fragment:
        secrets.add(parts.fragment)
        masked += f"#{MASK}"
    every = set().union(*(_encodings(s) for s in secrets if s)) if secrets else set()
    return masked, sorted(s for s in every if s)


def mask_rpc_url(url: str) -> str:
    """Show an RPC URL without its secrets.

    Keeps the scheme, host and port; masks the userinfo, every path segment
    but versions, numbers and short lowercase words, every query value and
    the fragment. Never raises.

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
    >>> mask_rpc_url("https://rpc.example.org/base-mainnet/QwErTyUiOp")
    'https://rpc.example.org/base-mainnet/***'
    """
    return _split_secrets(url)[0]


def _scrub(text: str, secrets: list[str]) -> str:
    """Hide each secret (any case) found in free text, such as a server's error message.

    >>> _scrub("bad password HUNTER2pw for user", ["hunter2pw"])
    'bad password *** for user'
    """
    # Longest first, so that a secret containing a shorter one is hidden whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_HUNTED:
            text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    return text


# -- reading ------------------------------------------------------------------

# No real balance comes near 2**128 (all the ETH there is, in wei, is under
# 2**87); 2**256 - 1, the all-ones word, is what a broken or hostile node sends.
MAX_PLAUSIBLE_BALANCE = 2**128
_SELECTOR_DECIMALS = "0x313ce567"
_SELECTOR_BALANCE_OF = "0x70a08231"
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
_WORD = re.compile(r"0x[0-9a-fA-F]{64}")


class _Impossible(Exception):
    """The endpoint answered something no chain can: the reason, in a few words."""


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
    allowed only what is left of the one overall budget (a wall-clock
    deadline: an endpoint that drips its answer is cut off when it passes),
    with no retries. An answer body over 256 kB is refused.

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
        The endpoint is unreachable, too slow, answers with an error, too
        much or something impossible (a negative balance, 2**128 or more),
        has no 6-decimal token at ``usdc_address``, or an address is malformed. The
        message is one line, names the endpoint masked and carries no text
        from the underlying libraries.

    Examples
    --------
    A read of the embedded demo chain (see :mod:`ccanalytics.chain.demochain`):

    >>> from ccanalytics.chain.demochain import DemoChain
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
    where = f"RPC endpoint {shown}"
    if not _is_http_url(rpc_url.strip()):
        raise ChainError(f"{where} is not an http:// or https:// URL")
    wallet = _checksum(wallet, "wallet_address")
    usdc_address = _checksum(usdc_address, "usdc_address")

    failure: str | None = None
    try:
        read = _read(rpc_url.strip(), wallet, usdc_address, chain_id, Deadline(timeout_s))
    except RPCFailure as exc:
        failure = exc.reason
        if exc.server_message is not None:
            # The server's own words, on one line, without any secret of the URL.
            text = " ".join(_scrub(exc.server_message, secrets).split())[:200]
            failure = f"returned an error: {text}" if text else "returned an error"
    except _Impossible as exc:
        failure = f"gave an impossible answer: {exc}"
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


def _quantity(value: object, what: str) -> int:
    """A JSON-RPC quantity ("0x1a"), refused when it is not a non-negative 256-bit number."""
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        if isinstance(value, str) and value.lstrip().startswith("-"):
            raise _Impossible(f"a negative {what}")
        raise RPCFailure("gave an answer that is not JSON-RPC")
    return int(value, 16)


def _word(value: object, what: str) -> int:
    """The one 32-byte word an ``eth_call`` of a uint function returns."""
    if value in ("0x", "0x0", ""):
        # No code at the address: the call returns nothing.
        raise RPCFailure("has no USDC contract at usdc_address")
    if not isinstance(value, str) or _WORD.fullmatch(value) is None:
        raise RPCFailure("gave an answer that is not JSON-RPC")
    return int(value, 16)


def _plausible(value: int, what: str) -> int:
    if not 0 <= value < MAX_PLAUSIBLE_BALANCE:
        raise _Impossible(f"a {what} of 2**128 or more")
    return value


def _eth_call(url: str, to: str, data: str, deadline: Deadline) -> object:
    try:
        return rpc.call(url, "eth_call", [{"to": to, "data": data}, "latest"], deadline)
    except RPCFailure as exc:
        if exc.server_message is not None and "revert" in exc.server_message.lower():
            raise RPCFailure("has no USDC contract at usdc_address") from None
        raise


def _read(
    rpc_url: str, wallet: str, usdc_address: str, chain_id: int, deadline: Deadline
) -> int | tuple[int, int, int]:
    """The endpoint's chain id when it is not ``chain_id``, else the decimals and two balances.

    The token's decimals, the token balance and the ETH balance. Raises RPCFailure or _Impossible.
    """
    actual = _quantity(rpc.call(rpc_url, "eth_chainId", [], deadline), "chain id")
    if actual != chain_id:
        # Checked first: on another chain the token calls would fail for the wrong reason.
        return actual
    decimals = _word(_eth_call(rpc_url, usdc_address, _SELECTOR_DECIMALS, deadline), "decimals")
    if decimals > 255:
        raise _Impossible("decimals() over 255 (a uint8)")
    owner = wallet[2:].lower().rjust(64, "0")
    usdc_micro = _word(_eth_call(rpc_url, usdc_address, _SELECTOR_BALANCE_OF + owner, deadline), "balance")
    eth_wei = _quantity(rpc.call(rpc_url, "eth_getBalance", [wallet, "latest"], deadline), "ETH balance")
    return decimals, _plausible(usdc_micro, "USDC balance"), _plausible(eth_wei, "ETH balance")
