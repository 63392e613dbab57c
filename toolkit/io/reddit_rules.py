"""The Reddit rules, once, as Polars expressions over records read as text: ids, removal and deletion
signals, timestamps, ``edited``, HTML unescaping. Dump chunks, API pages and API objects all go through
:func:`normalize_chunk` (page and API records via :func:`normalize_records`).

HTML escaping (``html_unescape``): Reddit's API without ``raw_json=1`` escapes ``&``, ``<`` and ``>`` in
``body``/``title``/``selftext`` (``&amp;``, ``&lt;``, ``&gt;``); with ``raw_json=1`` it does not. Unescaping
raw text would corrupt text that legitimately contains ``&amp;``, so ``"auto"`` (the default) decides per
record: when the record carries ``body_html``/``selftext_html``, that field tells for certain (escaped
pages send it as ``&lt;div class=&quot;md&quot;&gt;...``, raw pages as ``<div class="md">...``); when it
does not (dumps), the text is unescaped only if it contains ``&amp;``, ``&lt;`` or ``&gt;``. ``True`` and
``False`` force the choice. Unescaping uses :func:`html.unescape`.
Rules (one record, as the Reddit API or a dump gives it):

- ids lose their ``tN_`` prefix; ``id`` (else ``name``) is the row's id; a comment's thread is ``link_id``,
  else a ``t3_`` parent, else the page's post (pages) or the nearest ancestor's thread (once all is read);
- removal, first signal wins: body ``[removed]``, ``removed_by_category`` (its values "deleted"/"author"
  mean the author deleted it, and stop the search), ``banned_by``, ``removal_reason``, ``removed`` true,
  Arctic Shift's ``_meta.removal_type`` other than "deleted"; deletion: body ``[deleted]``, a
  "deleted"/"author" category, ``_meta.removal_type`` "deleted", or ``_meta.was_deleted_later`` when
  nothing says the row was removed; ``removal_source``/``deletion_source`` name the signal. A placeholder
  body makes the text null; otherwise the text stays;
- an author ``[deleted]`` (or empty) is null; ``created_utc`` epoch seconds (or ISO text); ``edited`` false,
  true or the edit's timestamp (``edited_at``); a post's text is ``title + "\\n\\n" + selftext``;
- values are read as text (a dump's JSON numbers too); one that cannot be what its field needs (a score
  "abc", a ``removed`` that is not true/false) rejects the row, naming the first bad field (id, removed,
  author, edited, created_utc, score, subreddit, distinguished, stickied).

>>> row = normalize_reddit_comment({"id": "c1", "parent_id": "t3_p", "body": "[removed]", "created_utc": 0},
...                                path="x.json", line=1, rejects=Rejects())
>>> row["thread_id"], row["text"], row["removed"], row["removal_source"]
('p', None, True, 'body')
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from toolkit.io.base import Rejects
from toolkit.io.fields import FieldError, RowErrors, parse_int, parse_ints, parse_time, parse_times
from toolkit.io.stream import LineChunk, parse_chunk
from toolkit.schema import SOURCE_SCHEMA, is_comment
from toolkit.threads import climb
from toolkit.vocab import DELETED_AUTHOR, DELETED_TEXT, REMOVED_TEXT

if TYPE_CHECKING:
    from toolkit.io.reddit_dump import Filters

Kind = Literal["comments", "submissions"]
HtmlUnescape = bool | Literal["auto"]

PLATFORM = "reddit"
# ``removed_by_category`` values that mean the author deleted the post, not a moderator/admin removal.
AUTHOR_DELETION_CATEGORIES = frozenset({"deleted", "author"})

#: Extra columns the Reddit loaders add after the canonical source columns.
REDDIT_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "subreddit": pl.String(),
    "edited": pl.Boolean(),  # null when the record does not say
    "edited_at": pl.Datetime("us", "UTC"),  # null when not edited or edited without a timestamp (true)
    # which signal marked the row removed (body, removed_by_category, banned_by, removal_reason, removed_flag,
    # _meta.removal_type), or null
    "removal_source": pl.String(),
    "distinguished": pl.String(),  # "moderator", "admin", ... or null
    "stickied": pl.Boolean(),
    "source_reply_depth": pl.Int32(),  # depth from the page's nesting (post 0); null for sources without
    # which signal marked the row deleted (body, removed_by_category, _meta.removal_type,
    # _meta.was_deleted_later), or null
    "deletion_source": pl.String(),
}
REDDIT_SCHEMA: dict[str, pl.DataType] = {**SOURCE_SCHEMA, **REDDIT_EXTRA_SCHEMA}

_ESCAPE_SIGNS = ("&amp;", "&lt;", "&gt;")
_UNSET = ["false", "", "{}", "[]"]

_META_FIELDS = ("removal_type", "was_deleted_later", "retrieved_2nd_on")
_META = pl.Struct(dict.fromkeys(_META_FIELDS, pl.String()))
_COMMON_FIELDS = (
    "id", "name", "author", "score", "created_utc", "edited", "subreddit", "removed_by_category",
    "banned_by", "removal_reason", "removed", "distinguished", "stickied", "retrieved_on", "retrieved_utc",
)  # fmt: skip
RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "comments": {
        **{name: pl.String() for name in (*_COMMON_FIELDS, "parent_id", "link_id", "body", "body_html")},
        "_meta": _META,
    },
    "submissions": {
        **{name: pl.String() for name in (*_COMMON_FIELDS, "title", "selftext", "selftext_html")},
        "_meta": _META,
    },
}
PRIVATE: dict[str, pl.DataType] = {"_retrieved": pl.Float64(), "_line": pl.Int64(), "_file": pl.Int32()}


# --------------------------------------------------------------------------------------------------
# HTML unescaping of one text (the rows the vectorised path leaves)


def _looks_escaped(text: str | None, html_field: Any) -> bool:
    """The ``"auto"`` rule: the ``*_html`` field when there is one, else entity signs in the text."""
    if isinstance(html_field, str) and html_field:
        return "&lt;" in html_field and "<" not in html_field
    return text is not None and any(sign in text for sign in _ESCAPE_SIGNS)


def unescape_post(
    title: str | None, selftext: str | None, selftext_html: Any, mode: HtmlUnescape
) -> tuple[str | None, str | None]:
    """A post's title and selftext after the ``html_unescape`` rule (one decision for both); a comment's body
    (and ``body_html``) with no title gets the comment rule.

    The title has no ``*_html`` twin: on an escaped page ``selftext_html`` tells, else the texts' entities.
    """
    if mode == "auto":
        mode = _looks_escaped(title, selftext_html) or _looks_escaped(selftext, selftext_html)
    if mode and title is not None:
        title = html.unescape(title)
    if mode and selftext is not None:
        selftext = html.unescape(selftext)
    return title, selftext



# --------------------------------------------------------------------------------------------------
# whole columns


def _strip_fullname(values: pl.Series) -> pl.Series:
    """``t1_abc`` -> ``abc`` (any ``tN_`` prefix followed by something); empty -> null.

    Dumps are uniform (every ``parent_id`` prefixed, no ``id`` prefixed): those cases cost one check.
    """
    if values.null_count() == values.len():
        return values
    prefixed = values.str.contains(r"(?s)^t[0-9]_.").fill_null(False)
    count = int(prefixed.sum())
    if count == 0:
        out = values
    elif count == values.len() - values.null_count():
        out = values.str.slice(3)
    else:
        out = pl.select(pl.when(prefixed).then(values.str.slice(3)).otherwise(values)).to_series()
    if count < out.len() and (out == "").any():
        out = pl.select(pl.when(out != "").then(out)).to_series()
    return out.alias(values.name)


def _is_set(name: str) -> pl.Expr:
    """A removal signal counts when present and not null/false/empty (as read: text)."""
    return (pl.col(name).is_not_null() & ~pl.col(name).is_in(_UNSET)).fill_null(False)


def _bool_text(name: str) -> pl.Expr:
    """JSON true/false (read as text) -> Boolean; anything else null."""
    col = pl.col(name)
    return pl.when(col == "true").then(True).when(col == "false").then(False)


_UNESCAPED = ["&", "<", ">"]


def _unescape_texts(frame: pl.DataFrame, kind: str, mode: HtmlUnescape) -> pl.DataFrame:
    """Apply the ``html_unescape`` rule (see the module docstring) to the texts holding an ``&``.

    Texts whose only ``&`` are Reddit's three escapes (``&amp;``, ``&lt;``, ``&gt;``), with no ``*_html``
    field to consult, are unescaped vectorised (:func:`html.unescape` gives the same there); the rest go
    through :func:`unescape_post` (a comment as a post without a title), one call each.
    """
    if mode is False:
        return frame
    is_post = kind == "submissions"
    texts = ["_title", "_text"] if is_post else ["_text"]
    html_name = "selftext_html" if is_post else "body_html"
    amp = pl.any_horizontal(*(pl.col(c).str.contains("&", literal=True) for c in texts)).fill_null(False)
    rows = frame.select(amp.arg_true()).to_series()
    if rows.len() == 0:
        return frame
    subset = frame.select(*texts, html_name).gather(rows)
    stray = pl.any_horizontal(
        *(pl.col(c).str.replace_many(list(_ESCAPE_SIGNS), [""] * 3).str.contains("&", literal=True) for c in texts)
    ).fill_null(False)
    html_set = (pl.col(html_name).is_not_null() & (pl.col(html_name) != "")).fill_null(False)
    fast = ~stray & ~html_set
    subset = subset.with_columns(
        *(pl.when(fast).then(pl.col(c).str.replace_many(list(_ESCAPE_SIGNS), _UNESCAPED)).otherwise(pl.col(c)).alias(c) for c in texts),
        fast.alias("_fast"),
    )
    slow = subset.select((~pl.col("_fast")).arg_true()).to_series()
    if slow.len():
        picked = subset.gather(slow)
        titles = picked["_title"] if is_post else [None] * slow.len()
        columns = zip(titles, picked["_text"], picked[html_name], strict=True)
        pairs = [unescape_post(t, x, h, mode) for t, x, h in columns]
        unescaped = dict(zip(["_title", "_text"], zip(*pairs, strict=True), strict=True))
        subset = subset.with_columns(subset[c].scatter(slow, pl.Series(unescaped[c], dtype=pl.String)) for c in texts)
    return frame.with_columns(frame[c].scatter(rows, subset[c]) for c in texts)


def normalize_chunk(
    raw: pl.DataFrame,
    lines: np.ndarray,
    *,
    kind: str,
    path: Path,
    file_index: int,
    rejects: Rejects,
    filters: Filters | None = None,
    html_unescape: HtmlUnescape = "auto",
    position_offset: int = 0,
    originals: list[dict[str, Any]] | None = None,
) -> tuple[pl.DataFrame, int]:
    """Records read as text (:data:`RAW_SCHEMAS`) -> (canonical rows kept, number filtered out); bad rows go
    to ``rejects`` (file ``path``, line from ``lines``).

    Optional columns of ``raw``: ``_position`` (else line - 1 + ``position_offset``), ``_depth`` (the
    ``source_reply_depth``) and ``_thread`` (the thread when neither ``link_id`` nor a ``t3_`` parent tells).
    The common shapes are whole-column operations; unusual values (ISO times, scores as text, escaped
    texts, bad values) are handled on the few rows that have them, by the per-record field parsers.
    ``originals`` (the records as Python objects, one per row) let a reject name a bad value's own type.
    """
    is_post = kind == "submissions"
    frame, errors = _read_fields(raw, lines, is_post)
    errors = _collect_errors(frame, kind, *errors, originals)
    keep = _kept_rows(frame, errors, filters, is_post)
    filtered = int(raw.height - keep.sum())
    for row in sorted(errors):
        if keep[row]:
            field_name, reason = errors[row]
            rejects.add(path, int(lines[row]), field_name, reason)
            keep[row] = False
    if not keep.all():
        frame = frame.filter(pl.Series(keep))
    frame = _unescape_texts(frame, kind, html_unescape)
    return _canonical_rows(frame, is_post, file_index, position_offset), filtered


def _ids(raw: pl.DataFrame, is_post: bool) -> tuple[pl.Series, pl.Series, pl.Series]:
    """``(comment_id, parent_id, thread_id)``: a comment's thread from ``link_id``, else a ``t3_`` parent,
    else the reader's ``_thread``."""
    comment_id = _strip_fullname(raw["id"])
    if comment_id.null_count():
        comment_id = pl.select(pl.coalesce(comment_id, _strip_fullname(raw["name"]))).to_series()
    if is_post:
        return comment_id, pl.repeat(None, raw.height, dtype=pl.String, eager=True), comment_id
    parent = _strip_fullname(raw["parent_id"])
    thread = _strip_fullname(raw["link_id"])
    if thread.null_count():
        to_post = raw["parent_id"].str.starts_with("t3_").fill_null(False)
        fallback = raw["_thread"] if "_thread" in raw.columns else None
        thread = pl.select(pl.coalesce(thread, pl.when(to_post).then(parent), fallback)).to_series()
    return comment_id, parent, thread


def _signals(body: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """``(removal_source, deletion_source, placeholder text, bad removed flag)``: the removal and deletion
    signals, first signal wins (see the module docstring)."""
    meta_type = pl.col("_meta").struct.field("removal_type")
    body_removed = (pl.col(body) == REMOVED_TEXT).fill_null(False)
    body_deleted = (pl.col(body) == DELETED_TEXT).fill_null(False)
    category_set = _is_set("removed_by_category")
    category_deleted = category_set & pl.col("removed_by_category").is_in(list(AUTHOR_DELETION_CATEGORIES))
    flag = _bool_text("removed")
    flag_reached = ~(body_removed | category_set | _is_set("banned_by") | _is_set("removal_reason"))
    meta_removed = (meta_type.is_not_null() & (meta_type != "") & (meta_type != "deleted")).fill_null(False)
    removal_source = (
        pl.when(body_removed).then(pl.lit("body"))
        .when(category_set).then(pl.when(~category_deleted).then(pl.lit("removed_by_category")))
        .when(_is_set("banned_by")).then(pl.lit("banned_by"))
        .when(_is_set("removal_reason")).then(pl.lit("removal_reason"))
        .when(flag.fill_null(False)).then(pl.lit("removed_flag"))
        .when(meta_removed).then(pl.lit("_meta.removal_type"))
    )  # fmt: skip
    was_deleted_later = (pl.col("_meta").struct.field("was_deleted_later") == "true").fill_null(False)
    deletion_source = (
        pl.when(body_deleted).then(pl.lit("body"))
        .when(category_deleted).then(pl.lit("removed_by_category"))
        .when((meta_type == "deleted").fill_null(False)).then(pl.lit("_meta.removal_type"))
        .when(was_deleted_later & removal_source.is_null() & meta_type.is_null())
        .then(pl.lit("_meta.was_deleted_later"))
    )  # fmt: skip
    bad_removed = (flag_reached & pl.col("removed").is_not_null() & flag.is_null()).fill_null(False)
    return removal_source, deletion_source, body_removed | body_deleted, bad_removed


def _read_fields(raw: pl.DataFrame, lines: np.ndarray, is_post: bool
                 ) -> tuple[pl.DataFrame, tuple[RowErrors, RowErrors, RowErrors]]:
    """Every field parsed, one row per record (private ``_`` columns for what is settled later), and the
    (created, score, edited) parse errors as {row: reason}; ids, times and scores have fast paths."""
    body = "selftext" if is_post else "body"
    comment_id, parent, thread = _ids(raw, is_post)
    created, created_errors = parse_times(raw["created_utc"], "created_utc")
    stamps = pl.select(pl.when(~raw["edited"].is_in(["true", "false"])).then(raw["edited"])).to_series()
    edited_at, edited_errors = parse_times(stamps, "edited")  # where ``edited`` is a time, not true/false
    score, score_errors = parse_ints(raw["score"], "score")
    removal_source, deletion_source, placeholder, bad_removed = _signals(body)
    retrieved = pl.coalesce(
        c.cast(pl.Float64, strict=False)
        for c in (pl.col("_meta").struct.field("retrieved_2nd_on"), pl.col("retrieved_on"), pl.col("retrieved_utc"))
    )
    author = pl.col("author")
    edited = pl.col("edited")
    frame = raw.select(
        thread.alias("thread_id"),
        comment_id.alias("comment_id"),
        parent.alias("parent_id"),
        pl.lit(is_post).alias("is_post"),
        pl.when((author != DELETED_AUTHOR) & (author != "")).then(author).alias("author"),
        pl.when(~placeholder).then(pl.col(body)).alias("_text"),
        *([pl.col("title").alias("_title"), pl.col("selftext_html")] if is_post else [pl.col("body_html")]),
        created.alias("_created_us"),
        score.alias("score"),
        removal_source.alias("removal_source"),
        deletion_source.alias("deletion_source"),
        pl.col("subreddit"),
        pl.when(edited == "false").then(False).when(edited.is_not_null()).then(True).alias("edited"),
        edited_at.alias("_edited_us"),
        pl.col("distinguished"),
        _bool_text("stickied").alias("stickied"),
        retrieved.alias("_retrieved"),
        pl.Series("_line", lines, dtype=pl.Int64),
        *[pl.col(c) for c in ("_position", "_depth") if c in raw.columns],
        # checked here, reported by _collect_errors
        bad_removed.alias("_bad_removed"),
        (pl.col("stickied").is_not_null() & _bool_text("stickied").is_null()).alias("_bad_stickied"),
        pl.col("removed").alias("_removed_raw"),
        pl.col("stickied").alias("_stickied_raw"),
    )
    return frame, (created_errors, score_errors, edited_errors)


def _kept_rows(frame: pl.DataFrame, errors: dict[int, tuple[str, str]], filters: Filters | None,
               is_post: bool) -> np.ndarray:
    """Rows inside the filters (a row outside them is not checked further; a row whose time did not parse is
    kept for its error when a time filter is on)."""
    keep = np.ones(frame.height, dtype=bool)
    if filters is None or not filters.active:
        return keep
    conditions = []
    if filters.subreddits is not None:
        conditions.append(pl.col("subreddit").str.to_lowercase().is_in(list(filters.subreddits)).fill_null(False))
    if filters.link_ids is not None:
        conditions.append(pl.col("thread_id").is_in(list(filters.link_ids)).fill_null(True))
    if filters.since_us is not None or filters.until_us is not None:
        in_time = filters.in_time(pl.col("_created_us"))
        if is_post and filters.post_threads is not None:
            in_time = in_time | pl.col("thread_id").is_in(filters.post_threads.implode()).fill_null(False)
        conditions.append(in_time)
    keep = frame.select(pl.all_horizontal(conditions)).to_series().to_numpy().copy()
    for row, (field_name, _) in errors.items():
        if field_name == "created_utc":
            keep[row] = keep[row] or filters.since_us is not None or filters.until_us is not None
    return keep


def _canonical_rows(frame: pl.DataFrame, is_post: bool, file_index: int, position_offset: int) -> pl.DataFrame:
    """The kept rows as canonical columns plus the Reddit extras (a post's text: title, blank line, body)."""
    if is_post:
        title = pl.when(pl.col("_title") != "").then(pl.col("_title"))
        selftext = pl.when(pl.col("_text") != "").then(pl.col("_text"))
        text = pl.when(title.is_not_null() | selftext.is_not_null()).then(
            pl.concat_str(title, selftext, separator="\n\n", ignore_nulls=True)
        )
    else:
        text = pl.col("_text")
    return frame.select(
        "thread_id",
        "comment_id",
        "parent_id",
        "is_post",
        "author",
        text.alias("text"),
        pl.col("_created_us").cast(pl.Datetime("us", "UTC")).alias("created_at"),
        "score",
        pl.col("removal_source").is_not_null().alias("removed"),
        pl.col("deletion_source").is_not_null().alias("deleted"),
        pl.lit(PLATFORM).alias("platform"),
        (pl.col("_position") if "_position" in frame.columns else pl.col("_line") + (position_offset - 1))
        .alias("source_position"),
        "subreddit",
        "edited",
        pl.col("_edited_us").cast(pl.Datetime("us", "UTC")).alias("edited_at"),
        "removal_source",
        "distinguished",
        "stickied",
        (pl.col("_depth") if "_depth" in frame.columns else pl.lit(None)).cast(pl.Int32).alias("source_reply_depth"),
        "deletion_source",
        "_retrieved",
        "_line",
        pl.lit(file_index, dtype=pl.Int32).alias("_file"),
    )


def _collect_errors(
    frame: pl.DataFrame, kind: str, created: RowErrors, score: RowErrors, edited: RowErrors,
    originals: list[dict[str, Any]] | None = None,
) -> dict[int, tuple[str, str]]:
    """{row: (field, reason)} for the first bad field of each bad row (id, removed, edited, created_utc, score,
    stickied); with ``originals``, the reason describes the value as given (its type), not as read."""
    label = "post" if kind == "submissions" else "comment"
    flagged = frame.select(pl.col("comment_id").is_null().arg_true()).to_series().to_list()

    def flag(name: str) -> RowErrors:
        """The rows whose ``name`` (``removed``, ``stickied``) is not true/false."""
        rows = frame.select(pl.col(f"_bad_{name}").arg_true()).to_series().to_list()
        return {row: f"expected true/false, got {frame[f'_{name}_raw'][row]!r:.40}" for row in rows}

    found = {"removed": flag("removed"), "edited": edited, "created_utc": created, "score": score,
             "stickied": flag("stickied")}  # fmt: skip
    if originals is None and not (flagged or any(found.values())):
        return {}
    out: dict[int, tuple[str, str]] = {row: ("id", f"{label}: missing id") for row in flagged}
    ids = frame["comment_id"]
    parsers = {"removed": None, "edited": parse_time, "created_utc": parse_time, "score": parse_int, "stickied": None}
    if originals is not None:  # fields read as text that must have been strings
        for name in ("author", "subreddit", "distinguished"):
            found[name] = {
                row: f"expected a string, got {type(value).__name__} {value!r:.40}"
                for row, value in enumerate(record.get(name) for record in originals)
                if value is not None and not isinstance(value, str)
            }
        order = ("removed", "author", "edited", "created_utc", "score", "subreddit", "distinguished", "stickied")
        found = {name: found[name] for name in order}
    for field_name, rows in found.items():
        for row, reason in rows.items():
            if row in out:
                continue
            if originals is not None and field_name in parsers:
                reason = _as_given(originals[row].get(field_name), field_name, parsers[field_name]) or reason
            who = f"{label} {ids[row]}" if ids[row] else label
            out[row] = (field_name, f"{who}: {reason}")
    return dict(sorted(out.items()))


def _as_given(value: Any, field_name: str, parse: Any) -> str | None:
    """Why ``value`` (as the record gave it) is bad, naming its type; None when the scalar parser takes it."""
    if parse is None:
        return f"expected true/false, got {type(value).__name__} {value!r:.40}"
    try:
        parse(value, field_name)
    except FieldError as error:
        return str(error)
    return None




# --------------------------------------------------------------------------------------------------
# records given as Python objects (API pages and objects): checked for types, then the same path


_STRING_FIELDS = {"comments": ("parent_id", "link_id", "body"), "submissions": ("title", "selftext")}


def check_types(data: Any, kind: Kind) -> tuple[str | None, str] | None:
    """Why a record given as a Python object is not a Reddit record, as (field, reason), or None.

    Read as text, a number where a string is expected would pass; a page or API object says more, so
    ids and texts must be strings and ``_meta`` an object (``author``, ``subreddit`` and ``distinguished``
    are checked with the values, in :func:`normalize_chunk`, to report a record's first bad field).
    """
    label = "post" if kind == "submissions" else "comment"
    if not isinstance(data, dict):
        return None, f"{label}: expected a JSON object, got {type(data).__name__}"
    ident = data.get("id")
    if isinstance(ident, str) and ident:
        label = f"{label} {ident}"
    if ident is None and isinstance(data.get("name"), str):
        ident = data["name"]
    if ident is not None and not isinstance(ident, str):
        return "id", f"{label}: expected a string id, got {type(ident).__name__} {ident!r:.40}"
    for name in _STRING_FIELDS[kind]:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            what = "a string id" if name.endswith("_id") else "a string"
            return name, f"{label}: expected {what}, got {type(value).__name__} {value!r:.40}"
    meta = data.get("_meta")
    if meta is not None and not isinstance(meta, dict):
        return "_meta", f"{label}: expected an object, got {type(meta).__name__} {meta!r:.40}"
    return None


def _as_read(record: dict[str, Any], schema: dict[str, pl.DataType]) -> dict[str, Any]:
    """The fields the rules read, as a dump line would hold them (nested values as JSON text, NaN as text)."""

    def plain(value: Any) -> Any:
        if value is None or isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        return json.dumps(value, separators=(",", ":"), default=str)

    out = {name: plain(record[name]) for name in schema if name in record and name != "_meta"}
    if isinstance(record.get("_meta"), dict):
        out["_meta"] = {name: plain(value) for name, value in record["_meta"].items() if name in _META_FIELDS}
    return out


def normalize_records(
    records: list[dict[str, Any]],
    extra: dict[str, list[Any]],
    *,
    kind: Kind,
    path: Path,
    file_index: int,
    rejects: Rejects,
    html_unescape: HtmlUnescape = "auto",
) -> pl.DataFrame:
    """Records (checked by :func:`check_types`) -> canonical rows with the private columns; bad rows to ``rejects``.

    ``extra`` holds ``_line`` (line or record number of each record) and optionally ``_position``, ``_depth``,
    ``_thread`` (see :func:`normalize_chunk`).
    """
    schema = RAW_SCHEMAS[kind]
    lines = np.asarray(extra["_line"], dtype=np.int64)
    if records:
        data = "".join(json.dumps(_as_read(r, schema)) + "\n" for r in records).encode()
        found = Rejects()
        raw, numbers = parse_chunk(LineChunk(data, 1, len(records)), schema, path, found)
        for row in found.rows:
            rejects.add(path, int(lines[row["line"] - 1]), row["field"], row["reason"])
        index = numbers - 1
    else:
        raw, index = pl.DataFrame(schema=schema), np.zeros(0, dtype=np.int64)
    types = {"_position": pl.Int64(), "_depth": pl.Int32(), "_thread": pl.String()}
    raw = raw.with_columns(
        pl.Series(name, values, dtype=types[name]).gather(index) for name, values in extra.items()
        if name != "_line"
    )
    frame, _ = normalize_chunk(
        raw, lines[index], kind=kind, path=path, file_index=file_index, rejects=rejects, html_unescape=html_unescape,
        originals=[records[i] for i in index],
    )
    return frame


def _normalize_one(data: Any, kind: Kind, path: str | Path, line: int | None, rejects: Rejects,
                   html_unescape: HtmlUnescape, thread_id: str | None = None) -> dict[str, Any] | None:
    """One record through the rules: a row dict (canonical and Reddit columns) or None when rejected."""
    problem = check_types(data, kind)
    if problem is not None:
        rejects.add(path, line, *problem)
        return None
    frame = normalize_records([data], {"_line": [line or 0], "_thread": [thread_id]}, kind=kind, path=Path(path),
                              file_index=0, rejects=rejects, html_unescape=html_unescape)
    return frame.drop(list(PRIVATE)).to_dicts()[0] if frame.height else None


def normalize_reddit_comment(data: Any, *, path: str | Path, line: int | None, rejects: Rejects,
                             html_unescape: HtmlUnescape = "auto", thread_id: str | None = None) -> dict[str, Any] | None:
    """One Reddit comment (a t1 ``data`` object) -> a row dict, or None when rejected (the reason in ``rejects``).

    ``thread_id`` is the fallback when the record has no ``link_id`` and its parent is not the post.
    """
    return _normalize_one(data, "comments", path, line, rejects, html_unescape, thread_id)


def normalize_reddit_post(data: Any, *, path: str | Path, line: int | None, rejects: Rejects,
                          html_unescape: HtmlUnescape = "auto") -> dict[str, Any] | None:
    """One Reddit post (a t3 ``data`` object) -> a row dict (``is_post`` True), or None when rejected.

    ``comment_id == thread_id == id``; the text is ``title + "\\n\\n" + selftext`` (the title alone for link
    posts); a ``[removed]``/``[deleted]`` selftext sets the flag and the title stays as the text.
    """
    return _normalize_one(data, "submissions", path, line, rejects, html_unescape)


# --------------------------------------------------------------------------------------------------
# kinds and threads


def record_kind(record: Any) -> Kind | None:
    """``"comments"`` or ``"submissions"`` for a bare Reddit dump record, None for anything else.

    >>> record_kind({"id": "c1", "body": "hi", "parent_id": "t3_p"}), record_kind([1])
    ('comments', None)
    """
    if not isinstance(record, dict) or "kind" in record and "data" in record:
        return None
    if "id" not in record and "name" not in record:
        return None
    if "body" in record and ("parent_id" in record or "link_id" in record):
        return "comments"
    if "title" in record and ("selftext" in record or "subreddit" in record or "url" in record):
        return "submissions"
    return None


def resolve_threads(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Comments without a thread (no ``link_id``, parent not the post) take their nearest ancestor's thread.

    Reddit comment ids are unique across threads, so parents are found by id alone; the climb is pointer
    doubling (:func:`toolkit.threads.climb`), so long chains of such comments cost a few rounds, not
    one join per level. Returns (frame, comments whose thread is still unknown: no ancestor knows it).
    """
    unknown = pl.col("thread_id").is_null() & is_comment()
    if not frame.select(unknown.any()).item():
        return frame, 0
    n = frame.height
    rows = frame.select(pl.int_range(n, dtype=pl.Int64).alias("_row"), "comment_id", "parent_id", "is_post", unknown.alias("_unknown"))
    owners = (
        rows.filter(is_comment() & pl.col("comment_id").is_not_null())
        .select(pl.col("comment_id").alias("parent_id"), pl.col("_row").alias("_parent_row"))
        .unique("parent_id", keep="last")
    )
    links = rows.filter(pl.col("_unknown")).join(owners, on="parent_id", how="inner").select("_row", "_parent_row")
    jump = np.arange(n, dtype=np.int64)
    anchor = np.ones(n, dtype=bool)
    child = links["_row"].to_numpy()
    jump[child] = links["_parent_row"].to_numpy()
    anchor[child] = False
    root, _, reached = climb(jump, anchor)
    root[~reached] = np.arange(n)[~reached]  # cycles keep their own (unknown) thread
    resolved = frame["thread_id"].gather(root)
    frame = frame.with_columns(
        pl.when(unknown).then(resolved).otherwise(pl.col("thread_id")).alias("thread_id")
    )
    return frame, int(frame.select(unknown.sum()).item())


