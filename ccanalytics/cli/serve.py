"""``ccanalytics serve``: the dashboard (or a lake's fleet page) under Voila, until interrupted."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError
from ccanalytics.serve import Listen, serve_lake, serve_store
from ccanalytics.serve import token as tokens

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics serve [--db PATH | --lake DIR] [--host H] [--port P] [--token T | --token-file F] …``."""
    token = tokens.read_token(args.token, args.token_file)
    if args.token is not None and any(args.token in arg for arg in sys.argv):
        # `ps` shows a command line to every local user: run again with the token in the environment.
        os.execve(
            sys.executable,
            [sys.executable, "-m", "ccanalytics", *tokens.argv_without(sys.argv[1:], args.token)],
            {**os.environ, tokens.TOKEN_ENV: args.token},
        )
    listen = Listen(args.host, args.port, token, tuple(args.allow_host), args.max_kernels)
    if args.lake:
        if args.db:
            raise CCError("--lake and --db are exclusive: serve one store or one lake")
        return serve_lake(args.lake, listen)
    return serve_store(args.db or os.environ.get("CCANALYTICS_DB"), listen)
