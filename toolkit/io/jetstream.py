"""Bluesky's Jetstream -> one frame, streamed: JSON lines of events as captured from a public Jetstream
(``wss://jetstream*.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post``), plain or
compressed (zstd, gzip, xz, bz2: told by the magic bytes), a file, a folder or a glob read as one capture.

Events: ``{"did", "time_us", "kind": "commit", "commit": {"rev", "operation": "create"|"update"|"delete",
"collection", "rkey", "record", "cid"}}``; ``identity`` and ``account`` events and commits of other
collections (likes, follows...) are counted (``stats["events_other"]``), not rows.

- One row per ``app.bsky.feed.post`` record: ``comment_id`` is ``at://<did>/app.bsky.feed.post/<rkey>`` (the
  URI the Bluesky loader uses too), ``parent_id`` ``record.reply.parent.uri``, ``thread_id``
  ``record.reply.root.uri`` (its own URI for a thread's post), ``author`` the DID (Jetstream carries no
  handle), ``created_at`` ``record.createdAt`` (``event_time`` is when the relay saw it), ``langs``.
- Deletions are applied: a ``delete`` commit of a captured post marks its row ``deleted`` with null text
  (``stats["deletes"]`` counts delete events, ``deleted_rows`` the rows they hit). An ``update`` is a newer
  version: the newest event wins, each older copy is a reject (``duplicates``).
- A reply whose parent (or root) is outside the captured window stays a row: an orphan in the tree.
- Streaming: a first pass collects the deleted URIs (only lines mentioning ``"delete"`` are parsed), the
  second builds rows chunk by chunk; with ``sink`` each chunk goes there (the corpus store buckets it, each
  file an ingest unit: map steps ingest the files in parallel, each reading the whole capture's deletions)
  and :func:`finish_bucket` settles repeats per bucket of whole threads. Memory: the deleted URIs and a chunk.

Every post commit (create/update) is a record: ``records == rows kept + rows rejected``.

>>> result = read_jetstream("data/jetstream_synthetic.jsonl")  # SYNTHETIC capture (data/build_platform_archives.py)
>>> result.frame.height, result.stats["deleted_rows"], result.stats["events_other"]
(60, 3, 5)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import response_files
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.bluesky import reply_links
from toolkit.io.dedupe import dedupe_versions
from toolkit.io.fields import FieldError, opt_dict, opt_str, parse_int, parse_time
from toolkit.io.stream import StreamEnd, head_lines, iter_line_chunks
from toolkit.schema import SOURCE_SCHEMA, conform

PLATFORM = "bluesky"
POST = "app.bsky.feed.post"
SUFFIXES = (".jsonl", ".ndjson", ".json", ".zst", ".gz", ".xz", ".bz2", ".txt")
CHUNK_ROWS = 100_000
#: Private columns until :func:`finish_bucket`: newest event first (``_retrieved``), its file and line.
PRIVATE: dict[str, pl.DataType] = {"_retrieved": pl.Int64(), "_file": pl.Int64(), "_line": pl.Int64()}

_SEP = "\x1f"  # joins a post's languages while a chunk is built
#: Columns built in another type first: ``langs`` joined by ``_SEP``, ``event_time`` as epoch microseconds.
_NATIVE: dict[str, pl.DataType] = {"langs": pl.String(), "event_time": pl.Int64()}

JETSTREAM_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "author_did": pl.String(),
    "cid": pl.String(),
    "langs": pl.List(pl.String()),
    "event_time": pl.Datetime("us", "UTC"),  # time_us: when Jetstream emitted the event
    "operation": pl.String(),  # create | update
    "source_line": pl.Int64(),
    "source_file": pl.String(),
}


def _uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


def event_row(event: dict[str, Any]) -> dict[str, Any]:
    """A create/update commit of a post -> a row (see the module docstring); :class:`FieldError` on a bad field.

    >>> row = event_row({"did": "did:plc:b", "time_us": 1714557600000000, "kind": "commit", "commit": {
    ...     "operation": "create", "collection": "app.bsky.feed.post", "rkey": "2", "record": {"text": "hi",
    ...     "createdAt": "2024-05-01T10:00:00Z", "reply": {"root": {"uri": "at://did:plc:a/app.bsky.feed.post/1"},
    ...     "parent": {"uri": "at://did:plc:a/app.bsky.feed.post/1"}}}}})
    >>> row["comment_id"], row["thread_id"] == row["parent_id"], row["is_post"]
    ('at://did:plc:b/app.bsky.feed.post/2', True, False)
    """
    did = opt_str(event, "did", "did")
    commit = opt_dict(event, "commit", "commit") or {}
    rkey = opt_str(commit, "rkey", "commit.rkey")
    if not did or not rkey:
        raise FieldError("did" if not did else "commit.rkey", "missing (the post's URI needs both)")
    record = opt_dict(commit, "record", "commit.record")
    if record is None:
        raise FieldError("commit.record", f"a {commit.get('operation')} commit without its record")
    reply, parent, root = reply_links(record)
    uri = _uri(did, rkey)
    langs = record.get("langs")
    time_us = parse_int(event.get("time_us"), "time_us")
    return {
        "thread_id": root or uri, "comment_id": uri, "parent_id": parent, "is_post": reply is None,
        "author": did, "text": opt_str(record, "text", "record.text"),
        "created_at": parse_time(record.get("createdAt"), "record.createdAt"), "score": None,
        "removed": False, "deleted": False, "platform": PLATFORM, "author_did": did,
        "cid": opt_str(commit, "cid", "commit.cid"),
        "langs": [lang for lang in langs if isinstance(lang, str)] if isinstance(langs, list) else None,
        "event_time": time_us,  # epoch microseconds, cast to a datetime per chunk
        "operation": commit.get("operation"), "_retrieved": time_us,
    }


def jetstream_files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    """The capture's files: a file, a folder's event files (sorted) or a list of them."""
    return response_files(path, "Jetstream event files", SUFFIXES)


def looks_like_jetstream(path: Path) -> bool:
    """JSON lines of Jetstream events (``did``, ``time_us``, ``kind``), or a folder of such files.

    >>> looks_like_jetstream(Path("data/jetstream_synthetic.jsonl")), looks_like_jetstream(Path("data/seed_thread.txt"))
    (True, False)
    """
    path = Path(path)
    if path.is_dir():
        return any(looks_like_jetstream(f) for f in sorted(path.iterdir())[:20] if f.is_file())
    if not path.is_file() or path.suffix.lower() not in SUFFIXES:
        return False
    lines = head_lines(path)
    return bool(lines) and all(key in lines[0] for key in (b'"did"', b'"time_us"', b'"kind"'))


def _lines(file: Path, chunk_bytes: int) -> Any:
    """``(line number, raw line)`` of a file, streamed (decompressed when compressed)."""
    for item in iter_line_chunks(file, chunk_bytes):
        if isinstance(item, StreamEnd):
            if item.error is not None:
                raise LoadError(file, f"cannot read: {item.error}")
            if item.truncated:
                raise LoadError(file, "the compressed stream is cut short (truncated file)")
            return
        for offset, raw in enumerate(item.data.split(b"\n")[:-1]):
            yield item.first_line + offset, raw


def _deletions(files: Sequence[Path], chunk_bytes: int) -> dict[str, int]:
    """URI -> time_us of every post delete in the capture. A first pass that parses only the lines holding
    ``"delete"`` (found with ``bytes.find`` over whole chunks, so the other lines cost next to nothing)."""
    deleted: dict[str, int] = {}
    marker = b'"delete"'
    for file in files:
        for item in iter_line_chunks(file, chunk_bytes):
            if isinstance(item, StreamEnd):
                break  # a damaged file is reported by the second pass
            data, at = item.data, item.data.find(marker)
            while at >= 0:
                start, end = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at)
                end = len(data) if end < 0 else end
                try:
                    event = json.loads(data[start:end])
                    commit = event["commit"]
                    if commit["operation"] == "delete" and commit["collection"] == POST:
                        uri = _uri(event["did"], commit["rkey"])
                        deleted[uri] = max(deleted.get(uri, 0), int(event.get("time_us") or 0))
                except (ValueError, KeyError, TypeError):
                    pass  # the second pass rejects the line, naming it
                at = data.find(marker, end)
    return deleted


def finish_bucket(frame: pl.DataFrame, files: Sequence[Path], rejects: Rejects, options: dict[str, Any],
                  stats: dict[str, Any]) -> pl.DataFrame:
    """Whole-thread steps (per bucket in the corpus store): keep the newest event of each post, each older
    copy a reject; drop the private columns. ``duplicates`` is added to ``stats``."""
    frame, duplicates = dedupe_versions(frame, files, rejects)
    stats["duplicates"] = stats.get("duplicates", 0) + duplicates
    return frame.drop(list(PRIVATE))


def read_jetstream(path: str | Path | Sequence[str | Path], *, strict: bool = False, chunk_rows: int = CHUNK_ROWS,
                   chunk_bytes: int = 8 << 20, sink: Callable[[pl.DataFrame], None] | None = None,
                   deletions_from: str | Path | Sequence[str | Path] | None = None) -> LoadResult:
    """Load a Jetstream capture (see the module docstring), streamed.

    ``sink``: hand each chunk (private columns included) to ``sink`` instead of keeping it; the result's
    frame is then empty and :func:`finish_bucket` runs later per bucket. ``stats``: ``events``,
    ``records`` (post creates/updates), ``deletes``, ``deleted_rows``, ``events_other``, ``rows_rejected``,
    ``duplicates`` (without a sink), ``files``. ``deletions_from``: the whole capture, when ``path`` is one of
    its files (the corpus store ingests each file apart: a post's deletion may come in a later file).
    """
    files = jetstream_files(path)
    rejects = Rejects(strict=strict)
    stats: dict[str, Any] = {"files": [str(f) for f in files], "events": 0, "records": 0, "deletes": 0,
                             "deleted_rows": 0, "events_other": 0}
    deleted = _deletions(jetstream_files(deletions_from) if deletions_from is not None else files, chunk_bytes)
    schema = {**SOURCE_SCHEMA, **JETSTREAM_EXTRA_SCHEMA, **PRIVATE}
    kept: list[pl.DataFrame] = []
    rows: list[dict[str, Any]] = []
    position = 0

    def flush() -> None:
        if not rows:
            return
        # column-wise (much faster than rows); list columns travel joined and are split by Polars
        columns = {name: [row.get(name) for row in rows] for name in schema if name not in _NATIVE}
        columns["langs"] = [None if row["langs"] is None else _SEP.join(row["langs"]) for row in rows]
        columns["event_time"] = [row["event_time"] for row in rows]
        chunk = pl.DataFrame(columns, schema={**schema, **_NATIVE}, strict=False).with_columns(
            langs=pl.when(pl.col("langs") == "").then(pl.lit([], pl.List(pl.String()))).otherwise(
                pl.col("langs").str.split(_SEP)),
            event_time=pl.col("event_time").cast(pl.Datetime("us", "UTC")))
        chunk = conform(chunk, schema)
        rows.clear()
        (sink or kept.append)(chunk)

    for number, file in enumerate(files):
        for line, raw in _lines(file, chunk_bytes):
            if not raw.strip():
                continue
            stats["events"] += 1
            position += 1
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError) as error:
                stats["records"] += 1
                rejects.add(file, line, None, f"not a JSON event: {error}")
                continue
            commit = event.get("commit") if isinstance(event, dict) else None
            if not isinstance(event, dict) or event.get("kind") not in ("commit", "identity", "account"):
                stats["records"] += 1
                rejects.add(file, line, "kind", f"not a Jetstream event: {raw[:80]!r}")
                continue
            if event["kind"] != "commit" or not isinstance(commit, dict) or commit.get("collection") != POST:
                stats["events_other"] += 1
                continue
            if commit.get("operation") == "delete":
                stats["deletes"] += 1
                continue
            stats["records"] += 1
            try:
                row = event_row(event)
            except FieldError as failure:
                rejects.add(file, line, failure.field, f"post {event.get('did')}/{commit.get('rkey')}: {failure}")
                continue
            gone = deleted.get(row["comment_id"])
            if gone is not None and (row["_retrieved"] or 0) <= gone:
                row.update(text=None, deleted=True)
                stats["deleted_rows"] += 1
            rows.append({**row, "source_line": line, "source_file": file.name, "_file": number, "_line": line,
                         "source_position": position - 1})
            if len(rows) >= chunk_rows:
                flush()
    flush()
    frame = pl.concat(kept, how="vertical") if kept else conform(pl.DataFrame(schema=schema), schema)
    frame = frame.drop(list(PRIVATE)) if sink is not None else finish_bucket(frame, files, rejects, {}, stats)
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=files)
