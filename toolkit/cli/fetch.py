"""``toolkit-fetch``: download discussion data into a raw archive folder for the loaders.

``toolkit-fetch lemmy URL [--out DIR] [--rate 1.0] [--api v3|v4] [--no-modlog] ...`` (``--help`` lists all): a post, comment, community
or user URL; the archive goes to ``--out`` (default ``raw/lemmy/<host>/<kind>-<name>``). A login token, when
needed, is read from ``$LEMMY_JWT`` (``--token-env`` names another variable), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

from toolkit.errors import ToolkitError
from toolkit.fetch.lemmy import fetch_lemmy, parse_target
from toolkit.settings import FetchSettings


def default_out(url: str) -> Path:
    """Where an archive goes when ``--out`` is not given.

    >>> default_out("https://lemmy.world/c/news@lemmy.ml").as_posix()
    'raw/lemmy/lemmy.world/community-news@lemmy.ml'
    """
    target = parse_target(url)
    return Path("raw", "lemmy", urlsplit(target.base).netloc, f"{target.kind}-{target.name}")


def build_parser() -> argparse.ArgumentParser:
    """The ``toolkit-fetch`` argument parser (one sub-command per platform); the options are
    :class:`~toolkit.settings.FetchSettings`' fields (``--rate``, ``--api``, ``--no-modlog``, ...)."""
    parser = argparse.ArgumentParser(prog="toolkit-fetch", description=__doc__.splitlines()[0])
    platforms = parser.add_subparsers(dest="platform", required=True)
    lemmy = platforms.add_parser("lemmy", help="a Lemmy post, comment, community or user, with its modlog")
    lemmy.add_argument("url", help="e.g. https://lemmy.world/post/123, /c/name[@instance], /u/name")
    lemmy.add_argument("--out", type=Path, help="archive folder (default raw/lemmy/<host>/<kind>-<name>)")
    for option in fields(FetchSettings):
        if option.name == "url":
            continue
        flag = "--" + option.name.replace("_", "-")
        if isinstance(option.default, bool):
            lemmy.add_argument(flag, action=argparse.BooleanOptionalAction, default=option.default)
        else:
            lemmy.add_argument(flag, type=type(option.default), default=option.default)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``toolkit-fetch``; prints the counts as JSON, or the error's message (exit status 1).

    >>> main(["lemmy", "https://lemmy.world/wiki/rules"])  # the message goes to stderr
    1
    """
    args = build_parser().parse_args(argv)
    try:
        settings = FetchSettings(**{f.name: getattr(args, f.name) for f in fields(FetchSettings) if f.name != "url"})
        summary = fetch_lemmy(args.url, args.out or default_out(args.url), settings)
    except ToolkitError as error:
        print(f"toolkit-fetch: {error}", file=sys.stderr)
        return 1
    summary["files"] = len(summary["files"])
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
