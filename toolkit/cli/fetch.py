"""``toolkit-fetch``: download discussion data into a raw archive folder for the loaders.

``toolkit-fetch lemmy|bluesky|mastodon|hackernews URL [--out DIR] [--rate 1.0] ...`` (``--help`` lists all):
a Lemmy post, comment, community or user URL; a Bluesky post (``https://bsky.app/profile/<handle>/post/<rkey>``
or ``at://``); a Mastodon status (``https://<instance>/@user/<id>``); a Hacker News item
(``https://news.ycombinator.com/item?id=<id>``). The archive goes to ``--out`` (default
``raw/<platform>/<host>/<what>``). A token, when needed, is read from ``$LEMMY_JWT`` / ``$MASTODON_TOKEN``
(``--token-env`` names another variable), never from the command line.
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
from toolkit.fetch import FETCHERS
from toolkit.fetch.bluesky import parse_post
from toolkit.fetch.hackernews import parse_item
from toolkit.fetch.lemmy import parse_target
from toolkit.fetch.mastodon import parse_status
from toolkit.settings import FetchSettings

#: Each sub-command: its help and an example URL.
PLATFORMS = {
    "lemmy": ("a Lemmy post, comment, community or user, with its modlog",
              "e.g. https://lemmy.world/post/123, /c/name[@instance], /u/name"),
    "bluesky": ("a Bluesky thread (the whole reply tree) from a public AppView",
                "e.g. https://bsky.app/profile/alice.bsky.social/post/3kabc or at://did:plc:.../app.bsky.feed.post/3kabc"),
    "mastodon": ("a Mastodon thread (status, context, the root's context)", "e.g. https://mastodon.social/@user/1234"),
    "hackernews": ("a Hacker News thread from the official API", "e.g. https://news.ycombinator.com/item?id=8863"),
}


OPTIONS = [f for f in fields(FetchSettings) if f.name != "url"]  # each a --flag of every sub-command


def default_out(url: str, platform: str = "lemmy") -> Path:
    """Where an archive goes when ``--out`` is not given.

    >>> default_out("https://lemmy.world/c/news@lemmy.ml").as_posix()
    'raw/lemmy/lemmy.world/community-news@lemmy.ml'
    >>> default_out("https://news.ycombinator.com/item?id=8863", "hackernews").as_posix()
    'raw/hackernews/news.ycombinator.com/item-8863'
    """
    if platform == "bluesky":
        ref = parse_post(url)
        return Path("raw", "bluesky", ref.authority.replace(":", "_"), f"post-{ref.rkey}")
    if platform == "mastodon":
        base, status = parse_status(url)
        return Path("raw", "mastodon", urlsplit(base).netloc, f"status-{status}")
    if platform == "hackernews":
        return Path("raw", "hackernews", "news.ycombinator.com", f"item-{parse_item(url)}")
    target = parse_target(url)
    return Path("raw", "lemmy", urlsplit(target.base).netloc, f"{target.kind}-{target.name}")


def build_parser() -> argparse.ArgumentParser:
    """The ``toolkit-fetch`` argument parser (one sub-command per platform); the options are
    :class:`~toolkit.settings.FetchSettings`' fields (``--rate``, ``--api``, ``--no-modlog``, ...)."""
    parser = argparse.ArgumentParser(prog="toolkit-fetch", description=__doc__.splitlines()[0])
    platforms = parser.add_subparsers(dest="platform", required=True)
    for name, (what, example) in PLATFORMS.items():
        sub = platforms.add_parser(name, help=what)
        sub.add_argument("url", help=example)
        sub.add_argument("--out", type=Path, help=f"archive folder (default raw/{name}/<host>/<what>)")
        for option in OPTIONS:
            flag = "--" + option.name.replace("_", "-")
            if isinstance(option.default, bool):
                sub.add_argument(flag, action=argparse.BooleanOptionalAction, default=option.default)
            else:
                sub.add_argument(flag, type=str if option.default is None else type(option.default),
                                 default=option.default)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``toolkit-fetch``; prints the counts as JSON, or the error's message (exit status 1).

    >>> main(["lemmy", "https://lemmy.world/wiki/rules"])  # the message goes to stderr
    1
    """
    args = build_parser().parse_args(argv)
    try:
        settings = FetchSettings(**{f.name: getattr(args, f.name) for f in OPTIONS})
        summary = FETCHERS[args.platform](args.url, args.out or default_out(args.url, args.platform), settings)
    except ToolkitError as error:
        print(f"toolkit-fetch: {error}", file=sys.stderr)
        return 1
    summary["files"] = len(summary["files"])
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
