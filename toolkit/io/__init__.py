"""Loaders: one module per source format, each returning a :class:`LoadResult` of canonical source columns.

``LOADERS`` maps each ``format=`` name to its loader and ``DETECTORS`` each auto-detected format to the test
that recognises its files: a new loader is one module plus one line in each. ``path`` may also be a glob
pattern or a list of paths: every file must be of one format; the loaders in :data:`READS_MANY` read them
together (Lemmy: pages of one thread; Bluesky, Mastodon, Hacker News: responses of one archive; Jetstream: one
capture), the others load each file and the results are merged. :data:`STREAMED` names the formats the corpus
store streams (the loader takes ``sink=``, its ``finish`` runs per bucket of whole threads). A relative
path not found from the working directory is looked for in the bundled data (:mod:`toolkit.io.paths`).

>>> detect_format("data/seed_thread.txt")
'text'
>>> load_source("data/seed_thread.txt").frame.height
13
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io import (
    bluesky,
    convokit,
    hackernews,
    jetstream,
    lemmy,
    mastodon,
    reddit,
    reddit_api,
    reddit_dump,
    table,
    text_thread,
)
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import drop_duplicates
from toolkit.io.paths import resolve_data_path, where_looked

__all__ = ["DETECTORS", "LOADERS", "STREAMED", "LoadError", "LoadResult", "Rejects", "Streamed", "detect_format",
           "expand_paths", "formats", "load_source"]

#: One path, a glob pattern (``"archive/comments-*.json"``) or a list of paths.
Source = str | Path | Sequence[str | Path]

LOADERS: dict[str, Callable[..., LoadResult]] = {
    "bluesky": bluesky.read_bluesky,
    "convokit": convokit.read_convokit,
    "hackernews": hackernews.read_hackernews,
    "jetstream": jetstream.read_jetstream,
    "lemmy": lemmy.read_lemmy,
    "mastodon": mastodon.read_mastodon,
    "reddit_page": reddit.read_reddit_page,
    "reddit_api": reddit_api.read_reddit_api,
    "reddit_dump": reddit_dump.read_reddit_dump,
    "table": table.read_table,
    "csv": partial(table.read_table, file_type="csv"),
    "tsv": partial(table.read_table, file_type="tsv"),
    "parquet": partial(table.read_table, file_type="parquet"),
    "jsonl": partial(table.read_table, file_type="jsonl"),
    "text": text_thread.read_text_thread,
}
DETECTORS: dict[str, Callable[[Path], bool]] = {
    "bluesky": bluesky.looks_like_bluesky,
    "convokit": convokit.looks_like_convokit,
    "hackernews": hackernews.looks_like_hackernews,
    "jetstream": jetstream.looks_like_jetstream,
    "lemmy": lemmy.looks_like_lemmy,
    "mastodon": mastodon.looks_like_mastodon,
    "reddit_page": reddit.looks_like_reddit_page,
    "reddit_api": reddit_api.looks_like_api,
    "reddit_dump": reddit_dump.looks_like_dump,
    "csv": partial(table.has_suffix, suffixes=(".csv",)),
    "tsv": partial(table.has_suffix, suffixes=(".tsv", ".tab")),
    "parquet": partial(table.has_suffix, suffixes=(".parquet", ".pq")),
    "text": text_thread.looks_like_text,
}
#: Formats whose loader takes a list of files and reads them as one source (else: one by one, then merged).
READS_MANY = frozenset({"lemmy", "bluesky", "mastodon", "hackernews", "jetstream"})


@dataclass(frozen=True)
class Streamed:
    """A format the corpus store streams: its loader takes ``sink=`` (chunks with private columns);
    ``finish(bucket, files, rejects, options, stats)`` runs per bucket of whole threads; ``per_file(options)``:
    whether each input file is an ingest unit of its own (else the whole input is one unit);
    ``unit_options(units)``: loader options every unit gets (e.g. where the other units are)."""

    finish: Callable[[pl.DataFrame, Sequence[Path], Rejects, dict[str, Any], dict[str, Any]], pl.DataFrame]
    per_file: Callable[[dict[str, Any]], bool]
    unit_options: Callable[[list[Path]], dict[str, Any]] = lambda units: {}


#: The streamed formats, each input file an ingest unit (map steps ingest them in parallel): a Reddit dump's
#: monthly files (unless ``submissions`` go with all of them), a Jetstream capture's files (each reading the
#: deletions of all of them: a post's deletion may come in a later file).
STREAMED: dict[str, Streamed] = {
    "reddit_dump": Streamed(reddit_dump.finish_bucket, lambda options: options.get("submissions") is None),
    "jetstream": Streamed(jetstream.finish_bucket, lambda options: True,
                          lambda units: {"deletions_from": units} if len(units) > 1 else {}),
}


def formats() -> list[str]:
    """The names accepted as ``format=``."""
    return sorted(LOADERS)


def expand_paths(path: Source) -> list[Path]:
    """The paths that ``path`` names: itself, a glob pattern's matches (sorted) or the list's items.

    >>> [p.name for p in expand_paths("data/seed_thr*.txt")]
    ['seed_thread.txt']
    """
    if isinstance(path, (str, Path)):
        text = str(resolve_data_path(path))
        if Path(text).exists() or not any(char in text for char in "*?["):
            return [Path(text)]
        matches = sorted(Path(match) for match in glob.glob(text))
        if not matches:
            raise LoadError(text, f"no file matches this pattern{where_looked(text)}")
        return matches
    paths = [resolve_data_path(item) for item in path]
    if not paths:
        raise LoadError("[]", "an empty list of paths")
    return paths


def _detect_one(path: Path) -> str:
    """The single format whose detector accepts ``path``; an error naming the candidates otherwise."""
    if not path.exists():
        raise LoadError(path, f"no such file or directory{where_looked(path)}")
    matches = []
    for name, detect in DETECTORS.items():
        try:
            if detect(path):
                matches.append(name)
        except (OSError, ValueError):
            continue
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LoadError(path, f"cannot tell the format; pass format=... (one of: {', '.join(formats())})")
    raise LoadError(path, f"ambiguous format ({', '.join(matches)}); pass format=...")


def detect_format(path: Source) -> str:
    """The format of ``path``; for several files, the one format they all have (else an error naming them).

    >>> detect_format("data/lemmy_archive/comments-1042-*.json")
    'lemmy'
    """
    paths = expand_paths(path)
    found: dict[str, list[str]] = {}
    for item in paths:
        found.setdefault(_detect_one(item), []).append(item.name)
    if len(found) > 1:
        groups = "; ".join(f"{name}: {', '.join(names[:5])}" for name, names in found.items())
        raise LoadError(paths[0].parent, f"the files are of different formats ({groups}); "
                                         "load them apart or pass format=...")
    return next(iter(found))


def _merge(results: list[LoadResult], strict: bool) -> LoadResult:
    """One result from loading several files one by one: rows in file order, repeated ids kept once (the
    later file's version), counts summed."""
    offset, frames = 0, []
    for number, result in enumerate(results):
        frames.append(result.frame.with_columns(pl.col("source_position") + offset, _file=pl.lit(number)))
        offset += result.frame.height
    rejects = Rejects(strict=strict)
    frame, duplicates = drop_duplicates(
        pl.concat(frames, how="diagonal_relaxed"),
        lambda row, reason: rejects.add(results[row["_file"]].files[0], None, "comment_id", reason),
    )
    stats: dict[str, Any] = {"duplicates_across_files": duplicates}
    for result in results:
        for key, value in result.stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                stats[key] = stats.get(key, 0) + value
    return LoadResult(frame.drop("_file"), pl.concat([r.rejects for r in results] + [rejects.frame()]), stats,
                      [file for result in results for file in result.files])


def _run(name: str, path: Path | list[Path], options: dict[str, Any]) -> LoadResult:
    """``LOADERS[name](path, **options)``, an unknown option named as a :class:`LoadError`."""
    try:
        return LOADERS[name](path, **options)
    except TypeError as err:
        if "keyword argument" in str(err):
            raise LoadError(str(path), f"loader {name!r} does not take that option: {err}", field="options") from err
        raise


def load_source(path: Source, format: str | None = None, **options: Any) -> LoadResult:
    """Run the loader for ``format`` (auto-detected when None) on ``path``: a file, a folder, a glob pattern
    or a list of paths (see the module docstring)."""
    paths = expand_paths(path)
    name = format or detect_format(paths)
    if name not in LOADERS:
        raise LoadError(str(path), f"unknown format {name!r}; known formats: {', '.join(formats())}", field="format")
    for item in paths:
        if not item.exists():
            raise LoadError(item, f"no such file or directory{where_looked(item)}")
    if len(paths) == 1:
        return _run(name, paths[0], options)
    if name in READS_MANY:
        return _run(name, paths, options)
    return _merge([_run(name, item, options) for item in paths], bool(options.get("strict")))
