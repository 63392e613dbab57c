"""Plain-text threads (the seed's format): the post's lines, then one comment per line in page order.

Depth comes from leading indentation (``indent_unit`` per level) or ``>`` markers when present; a line
with neither is a top-level comment. With no indentation or markers anywhere, the source has no reply
links and every comment is ``structure="flat"`` at depth 1. Platform placeholders become flags.

>>> result = read_text_thread("data/seed_thread.txt")
>>> result.frame.height, result.stats["threaded"]
(13, False)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.schema import conform
from toolkit.vocab import DELETED_TEXT, REMOVED_TEXT

REMOVED_PLACEHOLDERS = frozenset({"removed by mod", "removed by moderator", "removed by admin", REMOVED_TEXT})
DELETED_PLACEHOLDERS = frozenset({"deleted by creator", "deleted by author", DELETED_TEXT})


def placeholder_flags(text: str) -> tuple[str | None, bool, bool]:
    """``(text or None, removed, deleted)`` for a comment body that may be a platform placeholder."""
    key = text.strip().lower()
    if key in REMOVED_PLACEHOLDERS:
        return None, True, False
    if key in DELETED_PLACEHOLDERS:
        return None, False, True
    return text, False, False


def _level(line: str, indent_unit: str | None, marker: str | None) -> tuple[int, str]:
    """Nesting level (0 = top-level comment) and the line without its indentation/markers."""
    level, rest = 0, line
    if indent_unit:
        while rest.startswith(indent_unit):
            level, rest = level + 1, rest[len(indent_unit) :]
    if marker and level == 0:
        stripped = rest.lstrip()
        while stripped.startswith(marker):
            level, stripped = level + 1, stripped[len(marker) :].lstrip()
        if level:
            rest = stripped
    return level, rest.strip()


def looks_like_text(path: Path) -> bool:
    """A ``.txt`` file."""
    return path.suffix.lower() == ".txt"


def read_text_thread(
    path: str | Path,
    *,
    post_lines: int = 6,
    indent_unit: str | None = "  ",
    marker: str | None = ">",
    thread_id: str | None = None,
    encoding: str = "utf-8",
    strict: bool = False,
) -> LoadResult:
    """Load one plain-text thread; blank lines are skipped (and counted), undecodable lines rejected."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(path, "no such file")
    if post_lines < 1:
        raise LoadError(path, f"post_lines must be >= 1, got {post_lines}", field="post_lines")
    thread_id = thread_id or path.stem
    rejects = Rejects(strict=strict)
    lines: list[tuple[int, str]] = []
    blank = 0
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as err:
            rejects.add(path, number, "text", f"not valid {encoding}: {err.reason} at byte {err.start}")
            continue
        if line.strip():
            lines.append((number, line.rstrip("\r\n")))
        else:
            blank += 1
    if not lines:
        raise LoadError(path, "the file holds no post (empty or only blank lines)")
    post, comments = lines[:post_lines], lines[post_lines:]
    title = post[0][1].strip()
    body = "\n".join(text.strip() for _, text in post[1:])
    rows = [
        {
            "thread_id": thread_id,
            "comment_id": thread_id,
            "parent_id": None,
            "is_post": True,
            "text": f"{title}\n\n{body}" if body else title,
            "title": title,
            "removed": False,
            "deleted": False,
            "source_line": post[0][0],
        }
    ]
    parsed = [(number, *_level(text, indent_unit, marker)) for number, text in comments]
    threaded = any(level > 0 for _, level, _ in parsed)
    stack: list[str] = []  # stack[k] = id of the last comment seen at level k
    for position, (number, level, content) in enumerate(parsed, start=1):
        comment_id = f"{thread_id}-{position}"
        if threaded and level > len(stack):
            rejects.add(path, number, "depth", f"nesting jumps to level {level + 1} under level {len(stack)}")
            continue
        text, removed, deleted = placeholder_flags(content)
        if threaded:
            del stack[level:]
            parent_id = stack[-1] if stack else thread_id
            stack.append(comment_id)
        else:
            parent_id = None
        rows.append(
            {
                "thread_id": thread_id,
                "comment_id": comment_id,
                "parent_id": parent_id,
                "is_post": False,
                "text": text,
                "title": None,
                "removed": removed,
                "deleted": deleted,
                "source_line": number,
            }
        )
    frame = pl.DataFrame(rows).with_columns(
        pl.lit("text").alias("platform"), pl.int_range(pl.len(), dtype=pl.Int64).alias("source_position")
    )
    return LoadResult(
        frame=conform(frame),
        rejects=rejects.frame(),
        stats={"blank_lines": blank, "threaded": threaded},
        files=[path],
    )
