"""The dashboard's token on the serve side: where it comes from, and a command line without it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["TOKEN_ENV", "argv_without", "read_token"]

TOKEN_ENV = "CCANALYTICS_TOKEN"


def read_token(flag: str | None, token_file: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The token visitors must present: ``--token-file``, ``--token`` or ``$CCANALYTICS_TOKEN``.

    A token file must be readable by its owner only (mode 0600), as an SSH key.

    Raises
    ------
    CCError
        Two sources at once, an empty token, or a token file that is missing or open to others.

    Examples
    --------
    >>> read_token(None, None, {"CCANALYTICS_TOKEN": "s3cret"}), read_token("t0k", None, {})
    ('s3cret', 't0k')
    >>> read_token(None, None, {}) is None
    True
    """
    from ccanalytics.errors import CCError

    if flag is not None and token_file is not None:
        raise CCError("give --token or --token-file, not both")
    if token_file is not None:
        try:
            mode = os.stat(token_file).st_mode
            with open(token_file, encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not text"
            raise CCError(f"--token-file {token_file}: cannot read it ({why})") from None
        if mode & 0o077:
            raise CCError(f"--token-file {token_file} is readable by other users: chmod 600 it")
        token: str | None = text.strip()
    elif flag is not None:
        token = flag
    else:
        token = environ.get(TOKEN_ENV) or None
    if token is not None and (not token.strip() or any(c.isspace() for c in token)):
        raise CCError("the token must be one word, without spaces")
    return token


def argv_without(argv: list[str], token: str) -> list[str]:
    """``argv`` without ``--token T`` / ``--token=T`` (serve then runs again with the token in its environment).

    >>> argv_without(["serve", "--token", "t0k", "--port", "1"], "t0k")
    ['serve', '--port', '1']
    >>> argv_without(["serve", "--token=t0k"], "t0k")
    ['serve']
    """
    kept: list[str] = []
    for arg in argv:
        if token in arg:
            if arg == token and kept and kept[-1].startswith("--t"):
                kept.pop()
            continue
        kept.append(arg)
    return kept
