"""Balance reads against a real JSON-RPC node (anvil), and what they must never show."""

from __future__ import annotations

import json
import logging
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

import pytest

from ccanalytics.chain import ChainError, ChainIdMismatch, mask_rpc_url, read_balances
from ccanalytics.errors import CCError
from tests.support.chain_fixtures import free_port
from tests.support.http import local_http

if TYPE_CHECKING:
    from collections.abc import Iterator

    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

KEY_IN_PATH = "sk_live_abcdef123456SECRET"
KEY_IN_QUERY = "SECRETQUERYVALUE"


@pytest.fixture
def sluggish_endpoint(anvil: Anvil) -> Iterator[str]:
    """A proxy to anvil that answers every request correctly, but 1.5 s late."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(1.5)
            request = urllib.request.Request(anvil.url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as upstream:
                answer = upstream.read()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the client gave up: that is the point
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    with local_http(Slow) as url:
        yield url


# -- reading -----------------------------------------------------------------


@pytest.mark.chain
def test_read_returns_exact_units(anvil: Anvil, funded: tuple[str, LocalAccount]) -> None:
    token, wallet = funded
    before_ms = time.time_ns() // 1_000_000
    balances = read_balances(anvil.url, wallet.address, token, anvil.chain_id)
    after_ms = time.time_ns() // 1_000_000
    assert (balances.usdc_micro, balances.eth_wei) == (12_345_678, 4_200_000_000_000_001)
    assert type(balances.usdc_micro) is int and type(balances.eth_wei) is int
    assert before_ms <= balances.read_at_ms <= after_ms


@pytest.mark.chain
def test_read_accepts_a_lowercase_wallet(anvil: Anvil, funded: tuple[str, LocalAccount]) -> None:
    token, wallet = funded
    balances = read_balances(anvil.url, wallet.address.lower(), token.lower(), anvil.chain_id)
    assert balances.usdc_micro == 12_345_678


@pytest.mark.chain
def test_a_later_transfer_shows_up(anvil: Anvil, funded: tuple[str, LocalAccount]) -> None:
    token, wallet = funded
    shop = anvil.new_wallet().address
    transfer = anvil.token(token).functions.transfer(shop, 345_678)
    receipt = anvil.send_signed(wallet, {"to": token, "data": transfer._encode_transaction_data()})
    gas_paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]

    after = read_balances(anvil.url, wallet.address, token, anvil.chain_id)
    assert after.usdc_micro == 12_000_000
    assert after.eth_wei == 4_200_000_000_000_001 - gas_paid
    shop_balances = read_balances(anvil.url, shop, token, anvil.chain_id)
    assert (shop_balances.usdc_micro, shop_balances.eth_wei) == (345_678, 0)


@pytest.mark.chain
def test_a_wallet_with_nothing_reads_zero(anvil: Anvil) -> None:
    token = anvil.deploy_token()
    balances = read_balances(anvil.url, anvil.new_wallet().address, token, anvil.chain_id)
    assert (balances.usdc_micro, balances.eth_wei) == (0, 0)


@pytest.mark.chain
def test_a_huge_balance_stays_exact(anvil: Anvil) -> None:
    # Beyond 2**64 and beyond float precision: integers all the way.
    token = anvil.deploy_token()
    wallet = anvil.new_wallet().address
    anvil.mint(token, wallet, 2**70 + 1)
    anvil.set_eth(wallet, 10**30 + 7)
    balances = read_balances(anvil.url, wallet, token, anvil.chain_id)
    assert (balances.usdc_micro, balances.eth_wei) == (2**70 + 1, 10**30 + 7)


# -- what makes a read fail ----------------------------------------------------


@pytest.mark.chain
def test_another_chain_is_a_mismatch(anvil: Anvil, funded: tuple[str, LocalAccount]) -> None:
    token, wallet = funded
    with pytest.raises(ChainIdMismatch) as caught:
        read_balances(anvil.url, wallet.address, token, chain_id=8453)
    assert (caught.value.actual, caught.value.expected) == (84532, 8453)
    assert "serves chain 84532" in str(caught.value) and "chain_id 8453" in str(caught.value)
    assert isinstance(caught.value, ChainError) and isinstance(caught.value, CCError)


def test_a_closed_port_fails_fast() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ChainError, match="unreachable: connection refused"):
        read_balances(url, "0x" + "11" * 20, "0x" + "22" * 20, 84532)
    assert time.monotonic() - started < 1.0


def test_a_silent_endpoint_times_out_within_the_budget(silent_endpoint: str) -> None:
    started = time.monotonic()
    with pytest.raises(ChainError) as caught:
        read_balances(silent_endpoint, "0x" + "11" * 20, "0x" + "22" * 20, 84532)
    elapsed = time.monotonic() - started
    assert str(caught.value) == f"RPC endpoint {silent_endpoint} unreachable: timed out after 5 s"
    assert 4.5 < elapsed < 6.0


@pytest.mark.chain
def test_the_budget_covers_the_whole_read(
    anvil: Anvil, funded: tuple[str, LocalAccount], sluggish_endpoint: str
) -> None:
    # Each request alone is well within the budget (1.5 s); the four of a read are not.
    token, wallet = funded
    started = time.monotonic()
    with pytest.raises(ChainError, match="timed out after 5 s"):
        read_balances(sluggish_endpoint, wallet.address, token, anvil.chain_id)
    assert time.monotonic() - started < 6.0


@pytest.mark.chain
def test_a_slow_but_sufficient_endpoint_is_read(
    anvil: Anvil, funded: tuple[str, LocalAccount], sluggish_endpoint: str
) -> None:
    token, wallet = funded
    balances = read_balances(sluggish_endpoint, wallet.address, token, anvil.chain_id, timeout_s=10.0)
    assert balances.usdc_micro == 12_345_678


@pytest.mark.chain
def test_an_http_error_is_named(anvil: Anvil) -> None:
    # anvil answers 404 off its root path.
    with pytest.raises(ChainError, match=r"answered HTTP 404$"):
        read_balances(anvil.url + "/nope", "0x" + "11" * 20, "0x" + "22" * 20, 84532)


@pytest.mark.chain
def test_no_contract_at_usdc_address(anvil: Anvil) -> None:
    empty = anvil.new_wallet().address
    with pytest.raises(ChainError, match="has no USDC contract at usdc_address"):
        read_balances(anvil.url, anvil.new_wallet().address, empty, anvil.chain_id)


@pytest.mark.chain
def test_a_token_without_6_decimals_is_refused(anvil: Anvil) -> None:
    # Code that answers 18 to every call: decimals() == 18.
    fake = anvil.new_wallet().address
    response = anvil.w3.provider.make_request("anvil_setCode", [fake, "0x601260005260206000f3"])
    assert "error" not in response
    with pytest.raises(ChainError, match="has 18 decimals, not 6"):
        read_balances(anvil.url, anvil.new_wallet().address, fake, anvil.chain_id)


@pytest.mark.parametrize(
    ("wallet", "usdc", "setting"),
    [
        ("0x1234", "0x" + "22" * 20, "wallet_address"),
        ("not an address", "0x" + "22" * 20, "wallet_address"),
        ("0x" + "11" * 20, "0x" + "zz" * 20, "usdc_address"),
    ],
)
def test_malformed_addresses_are_named(wallet: str, usdc: str, setting: str) -> None:
    # Refused before anything is sent: no endpoint needed.
    with pytest.raises(ChainError, match=f"^{setting} .* is not an Ethereum address$"):
        read_balances(f"http://127.0.0.1:{free_port()}", wallet, usdc, 84532)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"wss://base.example/v2/{KEY_IN_PATH}", "wss://base.example/v2/***"),
        ("http://", "http://"),
        ("http://127.0.0.1:99999", "http://127.0.0.1:99999"),
        (f"rpc.example/{KEY_IN_PATH}", "rpc.example/***"),
    ],
)
def test_only_http_urls(url: str, shown: str) -> None:
    with pytest.raises(ChainError) as caught:
        read_balances(url, "0x" + "11" * 20, "0x" + "22" * 20, 8453)
    assert str(caught.value) == f"RPC endpoint {shown} is not an http:// or https:// URL"


@pytest.fixture
def scripted_endpoint() -> Iterator[str]:
    """A loopback server whose answer is the path's first segment: /<status>/<body name>/..."""
    bodies = {
        "html": b"<html><body>Welcome to nginx</body></html>",
        "empty": b"{}",
        "list": b"[]",
        "echo": json.dumps(
            {"jsonrpc": "2.0", "id": 0, "error": {"code": -32000, "message": f"bad key {KEY_IN_PATH}\ntry again"}}
        ).encode(),
    }

    class Scripted(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status, name = self.path.split("/")[1:3]
            body = bodies[name]
            self.send_response(int(status))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with local_http(Scripted) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/200/html", "gave an answer that is not JSON-RPC"),
        ("/200/empty", "gave an answer that is not JSON-RPC"),
        ("/200/list", "gave an answer that is not JSON-RPC"),
        ("/401/html", "answered HTTP 401"),
        ("/503/empty", "answered HTTP 503"),
        ("/200/echo", "returned an error: bad key *** try again"),
    ],
)
def test_a_wrong_answer_is_named(scripted_endpoint: str, path: str, reason: str) -> None:
    url = f"{scripted_endpoint}{path}/{KEY_IN_PATH}"
    with pytest.raises(ChainError) as caught:
        read_balances(url, "0x" + "11" * 20, "0x" + "22" * 20, 8453)
    assert str(caught.value) == f"RPC endpoint {scripted_endpoint}{path}/*** {reason}"
    _assert_secret_free(_all_text_of(caught.value))


# -- secrets ---------------------------------------------------------------------


def _all_text_of(exc: BaseException) -> str:
    """Everything a user could see of an exception: message, repr, full chained traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def _assert_secret_free(text: str) -> None:
    assert KEY_IN_PATH not in text
    assert KEY_IN_QUERY not in text
    assert "sk_live" not in text


@pytest.mark.chain
def test_a_key_in_the_url_never_shows_in_errors_or_logs(
    anvil: Anvil,
    funded: tuple[str, LocalAccount],
    silent_endpoint: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    token, wallet = funded
    caplog.set_level(logging.DEBUG)
    with_key = f"/v2/{KEY_IN_PATH}?key={KEY_IN_QUERY}&chain=1"
    failing = {
        "HTTP 404": anvil.url + with_key,
        "connection refused": f"http://127.0.0.1:{free_port()}{with_key}",
        "timed out after 0.5 s": silent_endpoint + with_key,
        "serves chain 84532": f"{anvil.url}/?key={KEY_IN_QUERY}",
    }
    for reason, url in failing.items():
        with pytest.raises(ChainError) as caught:
            read_balances(url, wallet.address, token, 8453, timeout_s=0.5)
        assert reason in str(caught.value)
        assert "***" in str(caught.value)
        _assert_secret_free(_all_text_of(caught.value))

    # A successful read with the key in the query (anvil serves only "/").
    balances = read_balances(f"{anvil.url}/?key={KEY_IN_QUERY}", wallet.address, token, anvil.chain_id)
    assert balances.usdc_micro == 12_345_678

    # Requests go through ccanalytics.chain.rpc, which logs nothing, not even at DEBUG.
    logged = "\n".join(caplog.messages)
    _assert_secret_free(logged)
    out, err = capfd.readouterr()
    _assert_secret_free(out + err)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://localhost:8545/", "http://localhost:8545/"),
        ("https://mainnet.base.org", "https://mainnet.base.org"),
        ("https://sepolia.base.org/", "https://sepolia.base.org/"),
        ("http://[::1]:8545", "http://[::1]:8545"),
        ("https://base-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyz_QRS", "https://base-mainnet.g.alchemy.com/v2/***"),
        ("https://base-mainnet.infura.io/v3/0123456789abcdef0123456789abcdef", "https://base-mainnet.infura.io/v3/***"),
        (
            "https://dry-frost.base-mainnet.quiknode.pro/0123456789abcdef0123456789abcdef01234567/",
            "https://dry-frost.base-mainnet.quiknode.pro/***/",
        ),
        ("https://rpc.ankr.com/base/" + "ab" * 32, "https://rpc.ankr.com/base/***"),
        ("https://go.getblock.io/a1b2c3d4", "https://go.getblock.io/***"),
        ("https://user:hunter2@rpc.example.org/base", "https://***@rpc.example.org/base"),
        ("https://rpc.example.org/base?apikey=s3cret&chain=base", "https://rpc.example.org/base?apikey=***&chain=***"),
        ("https://rpc.example.org/?s3cretToken123", "https://rpc.example.org/?***"),
        ("https://rpc.example.org/#s3cret", "https://rpc.example.org/#***"),
        ("http://[::1", "***"),
        # Letter-only keys, and short ones, are keys too; versions, numbers and plain words are not.
        ("https://rpc.example.org/v2/QwErTyUiOpAsDf", "https://rpc.example.org/v2/***"),
        ("https://rpc.example.org/base/kqzmwrtplxvbn", "https://rpc.example.org/base/***"),
        ("https://rpc.example.org/8453/base-mainnet/Ab3", "https://rpc.example.org/8453/base-mainnet/***"),
        ("https://:hunter2pw@rpc.example.org/", "https://***@rpc.example.org/"),
    ],
)
def test_mask_rpc_url(url: str, shown: str) -> None:
    assert mask_rpc_url(url) == shown


def test_chain_module_exports() -> None:
    import ccanalytics.chain as chain

    assert sorted(chain.__all__) == ["ChainBalances", "ChainError", "ChainIdMismatch", "mask_rpc_url", "read_balances"]


@pytest.mark.chain
def test_token_rules_on_a_real_node(anvil: Anvil) -> None:
    """DemoUSDC behaves as an ERC-20 with 6 decimals whose only minter is its owner."""
    from web3.exceptions import ContractLogicError

    token = anvil.token(anvil.deploy_token())
    alice, bob = anvil.w3.eth.accounts[1:3]
    assert token.functions.decimals().call() == 6
    assert (token.functions.name().call(), token.functions.symbol().call()) == ("Demo USD Coin", "dUSDC")
    with pytest.raises(ContractLogicError, match="only the owner mints"):
        token.functions.mint(alice, 1).transact({"from": alice})

    anvil.mint(token.address, alice, 1_000)
    with pytest.raises(ContractLogicError):
        token.functions.transfer(bob, 1_001).transact({"from": alice})
    anvil.mined(token.functions.approve(bob, 300).transact({"from": alice}))
    with pytest.raises(ContractLogicError):
        token.functions.transferFrom(alice, bob, 301).transact({"from": bob})
    anvil.mined(token.functions.transferFrom(alice, bob, 300).transact({"from": bob}))
    balances = [token.functions.balanceOf(a).call() for a in (alice, bob)]
    assert balances == [700, 300]
    assert token.functions.allowance(alice, bob).call() == 0
    assert token.functions.totalSupply().call() == 1_000
