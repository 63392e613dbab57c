"""ConvoKit corpora: load a corpus directory into the canonical frame, and export a (scored) frame back.

A corpus directory holds ``utterances.jsonl`` (one utterance a line: ``id, speaker, conversation_id,
reply-to, timestamp, text, meta, vectors``), ``speakers.json``, ``conversations.json``, ``corpus.json`` and
``index.json`` (ConvoKit's on-disk format, as ``Corpus.dump`` writes it). Older corpora say ``user``,
``root`` and ``reply_to``; those load too, and so does the older single-document ``utterances.json``.

Mapping: ``comment_id=id``, ``thread_id=conversation_id``, ``parent_id=reply-to``, ``author=speaker``
(``"[deleted]"`` -> null), ``created_at`` from ``timestamp`` (epoch seconds; ISO strings accepted),
``is_post`` when ``id == conversation_id`` and ``reply-to`` is null. Every ``meta`` field becomes a column
``meta_<key>`` (one level: nested objects/lists are kept as JSON text); ``meta.score`` gives ``score``,
``meta.removed``/``meta.deleted`` (true/false) the flags, ``meta.platform`` the platform (default
``"convokit"``); ``"[removed]"``/``"[deleted]"`` texts are placeholders -> flags, text null.

:func:`export_convokit` writes a frame as such a directory with the score columns in each utterance's
meta; the loader reads them back under their own names (``corpus.json`` lists them), so
``read_convokit(export_convokit(frame, d))`` gives back the ids, parents, texts, flags and scores.

>>> read_convokit("tests/fixtures/convokit/askscience_small").frame.height
7
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import ConfigError
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import drop_duplicates
from toolkit.io.fields import INT64_MAX, FieldError, micros, parse_id, parse_int, parse_time
from toolkit.io.stream import JsonLine, iter_json_lines, parse_json_document, read_bytes
from toolkit.io.text_thread import placeholder_flags
from toolkit.schema import SOURCE_SCHEMA, TREE_SCHEMA, conform
from toolkit.vocab import DELETED_AUTHOR, DELETED_TEXT, DETOXIFY_LABELS, FALSE_WORDS, REMOVED_TEXT, TRUE_WORDS

PLATFORM = "convokit"
META_PREFIX = "meta_"
#: corpus.json key under which the exporter lists the utterance-meta keys that are toolkit score columns.
SCORE_COLUMNS_KEY = "toolkit_score_columns"

CONVOKIT_EXTRA_SCHEMA: dict[str, pl.DataType] = {"source_line": pl.Int64()}


# --------------------------------------------------------------------------------------------------
# loading


def _bool_like(value: Any) -> bool | None:
    """true/false, 1/0 or a yes/no-like string -> bool; anything else -> None (not a usable flag)."""
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    key = value.strip().lower() if isinstance(value, str) else None
    return True if key in TRUE_WORDS else False if key in FALSE_WORDS else None


def _first_key(data: dict[str, Any], *names: str) -> Any:
    return next((data[name] for name in names if name in data), None)


def normalize_utterance(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One utterance object -> (canonical row, meta dict); raises :class:`FieldError` on a bad field."""
    if not isinstance(data, dict):
        raise FieldError("utterance", f"expected a JSON object, got {type(data).__name__}")
    utterance_id = parse_id(data.get("id"), "id")
    conversation_id = parse_id(_first_key(data, "conversation_id", "root"), "conversation_id", required=False)
    reply_to = parse_id(_first_key(data, "reply-to", "reply_to"), "reply-to", required=False)
    speaker = _first_key(data, "speaker", "user")
    if isinstance(speaker, dict):  # some exports nest the speaker object
        speaker = speaker.get("id")
    speaker = parse_id(speaker, "speaker", required=False)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise FieldError("text", f"expected a string, got {type(text).__name__} {text!r:.40}")
    meta = {} if data.get("meta") is None else data["meta"]
    if not isinstance(meta, dict):
        raise FieldError("meta", f"expected an object, got {type(meta).__name__} {meta!r:.40}")
    created_at = parse_time(data.get("timestamp"), "timestamp")
    if conversation_id is None:
        # ConvoKit fills a missing conversation id from the reply chain; a root starts its own conversation.
        if reply_to is not None:
            raise FieldError("conversation_id", "missing conversation_id on a reply")
        conversation_id = utterance_id
    removed = _bool_like(meta.get("removed")) or False
    deleted = _bool_like(meta.get("deleted")) or False
    if text is not None:
        text, placeholder_removed, placeholder_deleted = placeholder_flags(text)
        removed, deleted = removed or placeholder_removed, deleted or placeholder_deleted
    try:
        score = parse_int(meta.get("score"), "meta.score")
    except FieldError:
        score = None  # a non-integer score stays in meta_score, the canonical score is unknown
    platform = meta.get("platform") if isinstance(meta.get("platform"), str) else PLATFORM
    row = {
        "thread_id": conversation_id,
        "comment_id": utterance_id,
        "parent_id": reply_to,
        "is_post": utterance_id == conversation_id and reply_to is None,
        "author": None if speaker in (None, "", DELETED_AUTHOR) else speaker,
        "text": text,
        "created_at": created_at,
        "score": score,
        "removed": removed,
        "deleted": deleted,
        "platform": platform,
    }
    return row, meta


def _meta_column(values: list[Any]) -> pl.Series:
    """The values of one meta key across rows -> a typed column (JSON text where types mix or nest)."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return pl.Series(values, dtype=pl.Boolean())
    if all(isinstance(v, int) and not isinstance(v, bool) and abs(v) <= INT64_MAX for v in present):
        return pl.Series(values, dtype=pl.Int64())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pl.Series([None if v is None else float(v) for v in values], dtype=pl.Float64())
    if all(isinstance(v, str) for v in present):
        return pl.Series(values, dtype=pl.String())
    return pl.Series([None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                      for v in values], dtype=pl.String())


def _utterance_records(path: Path) -> Iterator[JsonLine]:
    """The utterances of ``utterances.jsonl`` (streamed) or of an older ``utterances.json`` list."""
    if path.suffix.lower() == ".jsonl":
        yield from iter_json_lines(path)
        return
    document = parse_json_document(path, read_bytes(path))
    if not isinstance(document, list):
        raise LoadError(path, "expected a JSON list of utterances")
    for number, value in enumerate(document, start=1):
        yield JsonLine(number, value=value)


def _utterance_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("utterances.jsonl", "utterances.json"):
            if (path / name).is_file():
                return path / name
        raise LoadError(path, "not a ConvoKit corpus directory: no utterances.jsonl in it")
    if path.is_file():
        return path
    raise LoadError(path, "no such file or directory")


def _corpus_meta(directory: Path) -> dict[str, Any]:
    """``corpus.json`` when present and an object (the score columns the exporter listed); else {}."""
    corpus_file = directory / "corpus.json"
    if not corpus_file.is_file():
        return {}
    try:
        document = json.loads(corpus_file.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def looks_like_convokit(path: Path) -> bool:
    """A directory holding ``utterances.jsonl`` (or that file itself, named so)."""
    path = Path(path)
    if path.is_dir():
        return (path / "utterances.jsonl").is_file() or (path / "utterances.json").is_file()
    return path.name == "utterances.jsonl" and path.is_file()


def read_convokit(path: str | Path, *, strict: bool = False, platform: str | None = None) -> LoadResult:
    """Load a ConvoKit corpus directory (or its ``utterances.jsonl``); see the module docstring for the mapping.

    ``platform`` overrides the platform of every row. Rejects name ``utterances.jsonl`` and the line;
    repeated utterance ids keep the last version (``stats["duplicates"]``).
    """
    path = Path(path)
    utterance_file = _utterance_file(path)
    corpus_meta = _corpus_meta(utterance_file.parent)
    listed = corpus_meta.get(SCORE_COLUMNS_KEY)
    score_keys = frozenset(k for k in (listed if isinstance(listed, list) else []) if isinstance(k, str))
    rejects = Rejects(strict=strict)
    rows: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    stats: dict[str, Any] = {"records": 0}
    for position, line in enumerate(_utterance_records(utterance_file)):
        stats["records"] += 1
        if line.error is not None:
            rejects.add(utterance_file, line.number, None, line.error)
            continue
        try:
            row, meta = normalize_utterance(line.value)
        except FieldError as failure:
            who = line.value.get("id") if isinstance(line.value, dict) else None
            usable = isinstance(who, (str, int)) and not isinstance(who, bool)
            label = f"utterance {who}" if usable else "utterance"
            rejects.add(utterance_file, line.number, failure.field, f"{label}: {failure}")
            continue
        if platform is not None:
            row["platform"] = platform
        row.update(source_position=position, source_line=line.number)
        rows.append(row)
        metas.append(meta)
    if stats["records"] == 0:
        raise LoadError(utterance_file, "empty file: no utterances")

    schema = {**SOURCE_SCHEMA, **CONVOKIT_EXTRA_SCHEMA}
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    columns = []
    for key in dict.fromkeys(key for meta in metas for key in meta):
        name = key if key in score_keys and key not in schema else f"{META_PREFIX}{key}"
        if name in schema or any(s.name == name for s in columns):
            continue
        columns.append(_meta_column([meta.get(key) for meta in metas]).alias(name))
    frame = conform(frame.with_columns(columns))
    frame, stats["duplicates"] = drop_duplicates(
        frame, lambda row, reason: rejects.add(utterance_file, row["source_line"], "comment_id", reason)
    )
    stats.update(rows_kept=frame.height, rows_rejected=len(rejects.rows),
                 score_columns=sorted(score_keys & set(frame.columns)))
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=[utterance_file])


# --------------------------------------------------------------------------------------------------
# export


def _json_value(value: Any) -> Any:
    """A frame value -> something :func:`json.dumps` writes as valid JSON (NaN/inf -> null, times -> ISO)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _timestamp(value: datetime | None) -> int | float | None:
    """A UTC datetime -> epoch seconds: an int when whole (ConvoKit's usual), else a float."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    us = micros(value)
    return us // 1_000_000 if us % 1_000_000 == 0 else us / 1_000_000


def _index_of(objects: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Each meta key's value types, as ConvoKit's index records them (``str(type(value))``)."""
    index: dict[str, list[str]] = {}
    for meta in objects:
        for key, value in meta.items():
            types = index.setdefault(key, [])
            name = str(type(value))
            if name not in types:
                types.append(name)
    return index


def export_convokit(
    frame: pl.DataFrame,
    out_dir: str | Path,
    score_columns: Sequence[str] | None = None,
    *,
    include_extras: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write ``frame`` as a ConvoKit corpus directory; returns the directory.

    Each row becomes an utterance (``id=comment_id``, ``conversation_id=thread_id``, ``reply-to=parent_id``,
    ``speaker=author`` or ``"[deleted]"``, ``timestamp`` in epoch seconds). Utterance meta holds ``score``,
    ``removed``, ``deleted``, ``platform``, the ``score_columns`` (default: the toolkit's label columns present,
    e.g. ``toxicity``) and, with ``include_extras``, the other non-tree columns (``meta_x`` written back as ``x``).
    A null text is written as ``"[removed]"``/``"[deleted]"`` for removed/deleted rows (ConvoKit's Reddit
    corpora do the same), else as ``""``. Comment ids must be unique across the frame (ConvoKit's ids are).
    """
    out_dir = Path(out_dir)
    frame, score_columns, extras = _export_columns(frame, out_dir, score_columns, include_extras, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    speakers: dict[str, dict[str, Any]] = {}
    conversations: dict[str, dict[str, Any]] = {}
    metas: list[dict[str, Any]] = []
    with (out_dir / "utterances.jsonl").open("w", encoding="utf-8") as handle:
        for row in frame.iter_rows(named=True):
            utterance = _utterance(row, extras, score_columns)
            speakers.setdefault(utterance["speaker"], {"meta": {}, "vectors": []})
            conversations.setdefault(row["thread_id"], {"meta": {}, "vectors": []})
            metas.append(utterance["meta"])
            handle.write(json.dumps(utterance, ensure_ascii=False) + "\n")
    corpus = {SCORE_COLUMNS_KEY: score_columns}
    (out_dir / "speakers.json").write_text(json.dumps(speakers, ensure_ascii=False), encoding="utf-8")
    (out_dir / "conversations.json").write_text(json.dumps(conversations, ensure_ascii=False),
                                                encoding="utf-8")
    (out_dir / "corpus.json").write_text(json.dumps(corpus), encoding="utf-8")
    index = {
        "utterances-index": _index_of(metas),
        "speakers-index": {},
        "conversations-index": {},
        "overall-index": _index_of([corpus]),
        "version": 1,
        "vectors": [],
    }
    (out_dir / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return out_dir


def _export_columns(frame: pl.DataFrame, out_dir: Path, score_columns: Sequence[str] | None, include_extras: bool,
                    overwrite: bool) -> tuple[pl.DataFrame, list[str], list[str]]:
    """The frame conformed, its score columns and the extra columns to export, once the export can go
    ahead (ids present and unique, score columns in the frame, the directory empty or ``overwrite``)."""
    missing = [c for c in ("thread_id", "comment_id") if c not in frame.columns]
    if missing:
        raise ConfigError("frame", f"export_convokit: the frame has no {', '.join(missing)} column; load it with toolkit.load")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir}: directory exists and is not empty (pass overwrite=True)")
    frame = conform(frame)
    duplicated = frame.filter(pl.col("comment_id").is_duplicated())
    if duplicated.height:
        sample = ", ".join(sorted(set(duplicated["comment_id"].head(5).to_list())))
        raise ConfigError(
            "frame",
            f"export_convokit: ConvoKit utterance ids must be unique, but {duplicated.height} rows share "
            f"comment ids (e.g. {sample}); deduplicate first (toolkit.threads.dedupe_comments)"
        )
    if score_columns is None:
        score_columns = [c for c in DETOXIFY_LABELS if c in frame.columns]
    unknown = [c for c in score_columns if c not in frame.columns]
    if unknown:
        raise ConfigError("score_columns", f"export_convokit: not in the frame: {unknown}; its columns: {frame.columns}")
    skip = set(SOURCE_SCHEMA) | set(TREE_SCHEMA) | set(score_columns) | {"source_line"}
    extras = [c for c in frame.columns if c not in skip] if include_extras else []
    return frame, list(score_columns), extras


def _utterance(row: dict[str, Any], extras: list[str], score_columns: list[str]) -> dict[str, Any]:
    """One row as a ConvoKit utterance (see :func:`export_convokit`)."""
    meta = {  # a key given twice keeps its first place and its last value
        **{column.removeprefix(META_PREFIX): _json_value(row[column]) for column in extras},
        "score": row["score"], "removed": row["removed"], "deleted": row["deleted"], "platform": row["platform"],
        **{column: _json_value(row[column]) for column in score_columns},
    }
    text = row["text"]
    if text is None:
        text = REMOVED_TEXT if row["removed"] else DELETED_TEXT if row["deleted"] else ""
    return {
        "id": row["comment_id"],
        "conversation_id": row["thread_id"],
        "text": text,
        "speaker": row["author"] if row["author"] else DELETED_AUTHOR,
        "meta": meta,
        "reply-to": row["parent_id"],
        "timestamp": _timestamp(row["created_at"]),
        "vectors": [],
    }
