"""The `oak-camera-service` command. Its options are read and checked before the service itself is loaded, so
that --help and a bad option answer at once."""
from __future__ import annotations

import sys

from .config import parse, read_tokens


def main(argv=None) -> None:
    args = parse(argv)
    tokens = read_tokens(args.token_file) if args.token_file else []
    if args.token_file and not tokens:
        print(f"oak-camera-service: error: --token-file {args.token_file} holds no token", file=sys.stderr)
        sys.exit(2)
    from .serve import run       # aiohttp, the backends, numpy and PyAV: only for a start that goes ahead
    run(args, tokens)
