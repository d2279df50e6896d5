"""ccanalytics.serve.token: the token's three sources and a command line without it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from ccanalytics.errors import CCError
from ccanalytics.serve.token import TOKEN_ENV, argv_without, read_token

if TYPE_CHECKING:
    from pathlib import Path


def _file(tmp_path: Path, text: str, mode: int) -> str:
    path = tmp_path / "token"
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_the_token_comes_from_a_file_a_flag_or_the_environment(tmp_path: Path) -> None:
    assert read_token(None, _file(tmp_path, "s3cret\n", 0o600), {}) == "s3cret"
    assert read_token("flag", None, {TOKEN_ENV: "env"}) == "flag"
    assert read_token(None, None, {TOKEN_ENV: "env"}) == "env"
    assert read_token(None, None, {TOKEN_ENV: ""}) is None


@pytest.mark.parametrize(
    ("flag", "text", "mode", "message"),
    [
        ("t", "x", 0o600, "not both"),
        (None, "x", 0o644, "chmod 600"),
        (None, "two words", 0o600, "one word"),
        (None, "   ", 0o600, "one word"),
        (None, b"\xff\xfe", 0o600, "cannot read it"),
    ],
)
def test_a_bad_token_is_one_line(tmp_path: Path, flag: str | None, text: str | bytes, mode: int, message: str) -> None:
    path = tmp_path / "token"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    os.chmod(path, mode)
    with pytest.raises(CCError, match=message):
        read_token(flag, str(path), {})


def test_a_missing_token_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CCError, match="cannot read it"):
        read_token(None, str(tmp_path / "absent"), {})


def test_the_command_line_loses_the_token_in_both_spellings() -> None:
    assert argv_without(["serve", "--token", "t0k", "--db", "x.db"], "t0k") == ["serve", "--db", "x.db"]
    assert argv_without(["serve", "--token=t0k", "--port", "1"], "t0k") == ["serve", "--port", "1"]
