"""``toolkit-cache``: look at and tidy the persistent score cache.

``toolkit-cache info`` lists each scorer identity (name, model, precision, long-text policy) with its part
files, distinct cached texts and size on disk, and prints the scorer cards (provenance, validity measured); ``toolkit-cache compact`` merges each identity's parts into one
de-duplicated part (safe while other runs read or write the cache) and removes temporary files left by killed
writers; ``toolkit-cache clear [SCORER]`` deletes one scorer's cached scores (``detoxify``, ``profanity``, ...;
every identity of that scorer) or, with no scorer, everything, after a confirmation (``--yes`` skips it).
``--cache-dir`` defaults to ``$TOOLKIT_CACHE_DIR`` or ``~/.cache/toolkit/scores``; ``--key`` limits a command
to identity directories whose name starts with it; ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from toolkit.scoring.cache import ScoreCache, list_caches, resolve_cache_dir
from toolkit.scoring.cards import card_for, card_lines, load_cards


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def _selected(root: str | None, key: str | None, scorer: str | None = None) -> list[ScoreCache]:
    return [c for c in list_caches(root) if (key is None or c.key.startswith(key))
            and (scorer is None or c.identity.get("name") == scorer)]


def _describe(identity: dict[str, str]) -> str:
    parts = [identity.get("name", "?"), identity.get("model", "")]
    parts += [f"{k}={v}" for k, v in identity.items() if k in ("precision", "long_text", "chunk_aggregate",
                                                                   "chunk_overlap", "activation", "columns")]
    return " ".join(p for p in parts if p)


def cmd_info(args: argparse.Namespace) -> int:
    """Print size and entries per scorer identity."""
    root = resolve_cache_dir(args.cache_dir)
    infos: list[dict[str, Any]] = [c.info() for c in _selected(args.cache_dir, args.key)]
    if args.json:
        cards = {c["key"]: c for c in (card_for(i["identity"]) for i in infos)}
        print(json.dumps({"cache_dir": str(root), "scorers": infos, "cards": {**load_cards(), **cards}}, indent=2))
        return 0
    print(f"score cache: {root}")
    if not infos:
        print("  (empty)")
    print("scorer cards (built by data/build_scorer_cards.py):")  # every stored card: provenance, validity measured
    for key, card in load_cards().items():
        print("\n".join("  " + line for line in card_lines({"key": key, **card})))
    if not infos:
        return 0
    for info in infos:
        counts = ((info["quarantined"], "quarantined"), (info["tmp_files"], "temporary"),
                  (info["rows"] - info["entries"], "duplicate rows"))
        notes = [f"{n} {what}" for n, what in counts if n > 0]
        extra = f"  ({', '.join(notes)})" if notes else ""
        print(f"  {info['key']}\n    {_describe(info['identity'])}\n    {info['entries']:,} texts in "
              f"{info['parts']} part file(s), {_human(info['bytes'])}; labels: {', '.join(info['labels'])}{extra}")
    print(f"  total: {sum(i['entries'] for i in infos):,} entries, {_human(sum(i['bytes'] for i in infos))}")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge each identity's parts into one, deduplicated."""
    results = [c.compact() for c in _selected(args.cache_dir, args.key)]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if not results:
        print("nothing to compact")
    for r in results:
        if r["skipped"]:
            print(f"  {r['key']}: skipped ({r['skipped']})")
        else:
            print(f"  {r['key']}: {r['parts_before']} part(s), {r['rows_before']:,} rows -> 1 part, "
                  f"{r['entries']:,} entries ({r['duplicates_removed']:,} duplicates, "
                  f"{r['stale_tmp_removed']} stale temporary files removed)")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    """Delete the selected scorers' caches (all of them when none is named), after a confirmation."""
    root = resolve_cache_dir(args.cache_dir)
    chosen = _selected(args.cache_dir, args.key, args.scorer)
    if not chosen:
        known = sorted({c.identity.get("name", "?") for c in list_caches(args.cache_dir)})
        what = f"no cache of scorer {args.scorer!r}" if args.scorer else "nothing cached"
        print(f"{what} in {root}" + (f" (cached scorers: {', '.join(known)})" if known else ""))
        return 0
    infos = [c.info() for c in chosen]
    entries, size = sum(i["entries"] for i in infos), sum(i["bytes"] for i in infos)
    for cache, info in zip(chosen, infos, strict=True):
        print(f"  {cache.key}: {_describe(cache.identity)}, {info['entries']:,} texts, {_human(info['bytes'])}")
    scope = f"scorer {args.scorer!r}" if args.scorer else "every scorer"
    if not args.yes:
        try:
            answer = input(f"Delete the cached scores of {scope} ({len(chosen)} identities, {entries:,} texts, "
                           f"{_human(size)}) in {root}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted (answer y, or pass --yes)")
            return 1
    for cache in chosen:
        cache.remove()
    print(f"deleted {len(chosen)} cache(s): {entries:,} texts, {_human(size)}; they are scored again on the next run")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="toolkit-cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", default=None, help="cache root (default $TOOLKIT_CACHE_DIR or "
                                                          "~/.cache/toolkit/scores)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (("info", cmd_info, "size and entries per scorer"),
                             ("compact", cmd_compact, "merge part files into one per scorer, dedupe")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--key", default=None, help="only identity directories starting with this")
        command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(func=func)
    clear = sub.add_parser("clear", help="delete a scorer's cached scores (or all), after a confirmation")
    clear.add_argument("scorer", nargs="?", default=None,
                       help="the scorer's name (detoxify, profanity, hf, politeness, ...); none: every scorer")
    clear.add_argument("--key", default=None, help="only identity directories starting with this")
    clear.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(func=cmd_clear)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``toolkit-cache``; returns the exit status.

    >>> import tempfile
    >>> main(["--cache-dir", tempfile.mkdtemp(), "compact"])
    nothing to compact
    0
    """
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
