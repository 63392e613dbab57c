"""``toolkit-fetch``: download discussion data into a raw archive folder for the loaders.

``toolkit-fetch lemmy URL [--out DIR] [--rate 1.0] [--api v3|v4] [--no-modlog]``: a post, comment, community
or user URL; the archive goes to ``--out`` (default ``raw/lemmy/<host>/<kind>-<name>``). A login token, when
needed, is read from ``$LEMMY_JWT`` (``--token-env`` names another variable), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from toolkit.errors import ToolkitError
from toolkit.fetch.lemmy import FetchSettings, fetch_lemmy, parse_target


def default_out(url: str) -> Path:
    """Where an archive goes when ``--out`` is not given.

    >>> default_out("https://lemmy.world/c/news@lemmy.ml").as_posix()
    'raw/lemmy/lemmy.world/community-news@lemmy.ml'
    """
    target = parse_target(url)
    return Path("raw", "lemmy", urlsplit(target.base).netloc, f"{target.kind}-{target.name}")


def build_parser() -> argparse.ArgumentParser:
    """The ``toolkit-fetch`` argument parser (one sub-command per platform)."""
    parser = argparse.ArgumentParser(prog="toolkit-fetch", description=__doc__.splitlines()[0])
    platforms = parser.add_subparsers(dest="platform", required=True)
    lemmy = platforms.add_parser("lemmy", help="a Lemmy post, comment, community or user, with its modlog")
    lemmy.add_argument("url", help="e.g. https://lemmy.world/post/123, /c/name[@instance], /u/name")
    lemmy.add_argument("--out", type=Path, help="archive folder (default raw/lemmy/<host>/<kind>-<name>)")
    lemmy.add_argument("--rate", type=float, default=FetchSettings.rate, help="requests per second at most")
    lemmy.add_argument("--api", choices=("v3", "v4"), default=FetchSettings.api, help="v3 = Lemmy 0.19, v4 = 1.0")
    lemmy.add_argument("--limit", type=int, default=FetchSettings.limit, help="items per page (max 50)")
    lemmy.add_argument("--retries", type=int, default=FetchSettings.retries)
    lemmy.add_argument("--no-modlog", dest="modlog", action="store_false", help="skip the modlog")
    lemmy.add_argument("--token-env", default=FetchSettings.token_env, help="variable holding a login token")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``toolkit-fetch``; prints the counts as JSON, or the error's message (exit status 1).

    >>> main(["lemmy", "https://lemmy.world/wiki/rules"])  # the message goes to stderr
    1
    """
    args = build_parser().parse_args(argv)
    settings = FetchSettings(rate=args.rate, api=args.api, limit=args.limit, modlog=args.modlog,
                             retries=args.retries, token_env=args.token_env)
    try:
        summary = fetch_lemmy(args.url, args.out or default_out(args.url), settings)
    except ToolkitError as error:
        print(f"toolkit-fetch: {error}", file=sys.stderr)
        return 1
    summary["files"] = len(summary["files"])
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
