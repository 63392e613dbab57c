"""Explore scored threads interactively in a notebook: a thread list, the thread as a clickable tree, a threshold
that recolours it, a search box, a table of the selected sub-thread linked both ways with the tree, and export.

``toolkit.notebook.explore(frame | run_dir)`` returns an :class:`Explorer` widget. Its logic (which threads, in
which order, node positions, colours, counts, search matches, selection, the rows exported) lives in the pure
functions and the :class:`ExploreState` below, tested without a browser; the widget only wires them to
ipywidgets controls and one Plotly ``FigureWidget``.

Why Plotly's FigureWidget for the tree (ipywidgets for the controls):

- since Plotly 6 the FigureWidget is an anywidget: it renders in JupyterLab, VS Code and other Jupyter front
  ends with no extension to install or enable (anywidget ships its module with the widget's state), and its
  click and box/lasso-selection events come back to Python callbacks, which is what the linked views need;
  its module (plotly.js, 5 MB) is sent once per kernel and evaluated once per page, not once per figure (see
  ``_SHARED_PLOTLY_ESM``), which halves the time an explorer takes to open;
- nodes are coloured by their score through the static figure's colour map (a Plotly colour scale made from
  it); the threshold fades the nodes below it: at once in the browser (a small anywidget linked to the slider
  with ``jslink``, mirroring :func:`node_opacity`), then through one Plotly ``restyle`` of the markers' opacity
  sent by the kernel (a binary array) with the counts; SVG markers keep every node a DOM element, so a browser
  test clicks one;
- Bokeh would need ``jupyter_bokeh`` (a second widget bridge) for Python callbacks inside an ipywidgets layout,
  and its Python-side events in a notebook are less direct; both are well kept, Plotly is the smaller step.

The tree uses the layout of the static thread-tree figure (:func:`toolkit.threads.layout.tree_layout`, called on
the rows :func:`toolkit.analysis.distribution.thread_tree_table` picks), so the two figures agree node for node.
Exporting draws that static figure (paper style, PNG/PDF, with its data table and spec, redrawable by
``toolkit-figures``). Exported to HTML by ``nbconvert`` (no widget state saved, JupyterLab's default), the
cell shows that static figure: the explorer displays the widget, then a hidden widget whose display bundle
carries the figure as ``image/png`` (rendered after the widget is sent, so the tree opens without waiting).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis.common import KNOWN_LABELS
from toolkit.errors import ConfigError, LoadError
from toolkit.schema import POLITENESS_STRATEGIES

__all__ = [
    "SORT_KEYS", "ExploreState", "Explorer", "candidate_labels", "explore", "filter_threads", "hover_texts",
    "colour_scale", "node_opacity", "search_matches", "sort_threads", "subthread", "thread_list", "tree_edges", "tree_nodes",
    "view_counts",
]

# The thread list's sort choices: what a reader picks -> the thread_list column.
SORT_KEYS = {"size": "comments", "depth": "depth", "toxic share": "toxic_share", "removals": "removed",
             "deletions": "deleted"}
_NOT_SCORES = {*POLITENESS_STRATEGIES, "score", "position", "source_position", "reply_depth", "source_reply_depth", "n_replies",
               "subtree_size", "created_at", "edited_at"}
FADED = 0.25  # the opacity of a node below the threshold
MATCH_COLOUR = "#E69F00"  # Okabe-Ito orange: search matches
SELECTED_COLOUR = "#0072B2"  # Okabe-Ito blue: the selected sub-thread
FOCUS_COLOUR = "#000000"
# the tree's marks over the nodes, by trace: (name, symbol, colour, line width, size over the node's)
_OVERLAYS = {2: ("no text", "circle", "#ffffff", 0.6, 1.0), 3: ("deleted", "circle-open", "#737373", 1.5, 1.5),
             4: ("removed", "x-thin-open", "#D55E00", 2.0, 1.3), 5: ("search", "circle-open", MATCH_COLOUR, 2.5, 2.0),
             6: ("selected", "circle-open", SELECTED_COLOUR, 1.5, 1.7), 7: ("focus", "circle-open", FOCUS_COLOUR, 3.0, 2.4)}
NO_TEXT, DELETED, REMOVED, SEARCH, SELECTED, FOCUS = 2, 3, 4, 5, 6, 7


# --------------------------------------------------------------------------------------------- pure functions


def candidate_labels(frame: pl.DataFrame, labels: Sequence[str] | None = None) -> list[str]:
    """The columns the tree can be coloured by: ``labels`` as given (checked), else the known score labels
    (``toxicity``, ..., ``politeness``) and then every other float column whose values all lie in [0, 1] (an
    LLM judge's score, a share of human annotators), in frame order; the politeness strategy counts are not
    scores.

    Raises:
        ConfigError: a named column is missing, or the frame has no score column at all.

    >>> import polars as pl
    >>> frame = pl.DataFrame({"toxicity": [0.1], "judge": [0.5], "score": [12.0], "n": [3]})
    >>> candidate_labels(frame)
    ['toxicity', 'judge']
    """
    if labels:
        missing = [c for c in labels if c not in frame.columns]
        if missing:
            raise ConfigError("labels", f"no column(s) {missing} in the frame (columns: {frame.columns})")
        return list(labels)
    known = [c for c in KNOWN_LABELS if c in frame.columns and frame[c].dtype.is_float()]
    others = []
    for c, dtype in frame.schema.items():
        if c in known or c in _NOT_SCORES or not dtype.is_float():
            continue
        values = frame[c].drop_nulls().drop_nans()
        if values.len() and values.min() >= 0 and values.max() <= 1:
            others.append(c)
    if not known + others:
        raise ConfigError("labels", "no score column to colour by; score the frame first (toolkit.score) or "
                          "name float columns with labels=[...]")
    return known + others


def thread_list(frame: pl.DataFrame, label: str, threshold: float) -> pl.DataFrame:
    """One row per thread: ``thread_id``, ``title`` (the post's first line), ``comments``, ``depth`` (deepest
    reply), ``toxic_share`` (share of scored comments with ``label >= threshold``), ``removed``, ``deleted``;
    in first-seen order.

    >>> from toolkit.analysis.synthetic import example_threads
    >>> thread_list(example_threads(), "toxicity", 0.5).select("thread_id", "comments", "removed").rows()
    [('a', 4, 1), ('b', 2, 1)]
    """
    comment = ~pl.col("is_post")
    score = pl.col(label).cast(pl.Float64).fill_nan(None)
    post_text = pl.col("text").filter(pl.col("is_post")).first()
    return frame.group_by("thread_id", maintain_order=True).agg(
        title=post_text.str.replace_all(r"\s+", " ").str.strip_chars().str.slice(0, 80).fill_null(""),
        comments=comment.sum().cast(pl.Int64),
        depth=pl.col("reply_depth").max().fill_null(0).cast(pl.Int64),
        toxic_share=((score >= threshold) & comment).sum() / (score.is_not_null() & comment).sum(),
        removed=(pl.col("removed").fill_null(False) & comment).sum().cast(pl.Int64),
        deleted=(pl.col("deleted").fill_null(False) & comment).sum().cast(pl.Int64),
    ).with_columns(pl.col("thread_id").cast(pl.String), pl.col("toxic_share").fill_nan(None))


def sort_threads(table: pl.DataFrame, by: str = "size", descending: bool = True) -> pl.DataFrame:
    """The thread list sorted by one of :data:`SORT_KEYS` (ties: thread id); threads without a share last.

    >>> import polars as pl
    >>> t = pl.DataFrame({"thread_id": ["a", "b"], "comments": [3, 9], "toxic_share": [0.5, None]})
    >>> sort_threads(t, "size")["thread_id"].to_list(), sort_threads(t, "toxic share")["thread_id"].to_list()
    (['b', 'a'], ['a', 'b'])
    """
    if by not in SORT_KEYS:
        raise ConfigError("sort", f"{by!r}: choose one of {list(SORT_KEYS)}")
    return table.sort([SORT_KEYS[by], "thread_id"], descending=[descending, False], nulls_last=True)


def filter_threads(table: pl.DataFrame, query: str = "", min_comments: int = 0) -> pl.DataFrame:
    """Threads whose id or title contains ``query`` (case-insensitive, literal) with at least ``min_comments``.

    >>> import polars as pl
    >>> t = pl.DataFrame({"thread_id": ["a1", "b2"], "title": ["Ask me anything", "News"], "comments": [3, 9]})
    >>> filter_threads(t, "ASK")["thread_id"].to_list(), filter_threads(t, min_comments=5)["thread_id"].to_list()
    (['a1'], ['b2'])
    """
    cond = pl.col("comments") >= min_comments
    q = query.strip().lower()
    if q:
        cond &= (pl.col("thread_id").str.to_lowercase().str.contains(q, literal=True)
                 | pl.col("title").str.to_lowercase().str.contains(q, literal=True))
    return table.filter(cond)


def tree_nodes(frame: pl.DataFrame, thread_id: str, labels: Sequence[str], *, max_nodes: int = 5000) -> pl.DataFrame:
    """The nodes of one thread's tree, in the static figure's row order and layout.

    The rows are those :func:`toolkit.analysis.distribution.thread_tree_table` draws (time then page order,
    at most ``max_nodes``) and the positions those of :func:`toolkit.threads.layout.tree_layout`.

    Returns:
        ``comment_id``, ``parent_id``, ``is_post``, ``x``, ``depth`` (layout depth, the y of the figure),
        ``parent_index`` (row of the parent in this table, -1 for the root), ``attached`` (parent unknown),
        ``reply_depth``, ``author``, ``text``, ``removed``, ``deleted`` and the ``labels`` columns.

    >>> from toolkit.analysis.synthetic import example_threads
    >>> nodes = tree_nodes(example_threads(), "a", ["toxicity"])
    >>> nodes.select("comment_id", "depth", "parent_index").rows()[:3]
    [('a', 0, -1), ('a1', 1, 0), ('a2', 2, 1)]
    """
    from toolkit.analysis.thread_tables import thread_tree_table
    from toolkit.threads.layout import tree_layout

    table, _ = thread_tree_table(frame, label=labels[0], thread_id=thread_id, max_nodes=max_nodes)
    x, depth, parent, attached = tree_layout(table["comment_id"].cast(pl.String).to_list(),
                                             table["parent_id"].cast(pl.String).to_list(),
                                             table["position"].to_numpy())
    wanted = [c for c in ("author", "text", *labels) if c in frame.columns]
    rows = frame.filter(pl.col("thread_id") == str(thread_id)).select("comment_id", *wanted)
    rows = rows.unique("comment_id", keep="first", maintain_order=True)
    nodes = table.select("comment_id", "parent_id", "is_post", "reply_depth", "removed", "deleted").with_columns(
        x=pl.Series(x, dtype=pl.Float64), depth=pl.Series(depth, dtype=pl.Int64),
        parent_index=pl.Series(parent, dtype=pl.Int64), attached=pl.Series(attached, dtype=pl.Boolean))
    nodes = nodes.join(rows, on="comment_id", how="left", maintain_order="left")
    if "author" not in nodes.columns:
        nodes = nodes.with_columns(author=pl.lit(None, pl.String))
    return nodes


def tree_edges(nodes: pl.DataFrame) -> tuple[list[float | None], list[float | None]]:
    """The tree's edges as one polyline broken by ``None`` (Plotly's convention): parent down to half a level,
    across, down to the child (the static figure's elbows).

    >>> import polars as pl
    >>> tree_edges(pl.DataFrame({"x": [0.5, 0.0, 1.0], "depth": [0, 1, 1], "parent_index": [-1, 0, 0]}))[0]
    [0.5, 0.5, 0.0, 0.0, None, 0.5, 0.5, 1.0, 1.0, None]
    """
    x, depth, parent = nodes["x"].to_numpy(), nodes["depth"].to_numpy(), nodes["parent_index"].to_numpy()
    child = np.flatnonzero(parent >= 0)
    p = parent[child]
    mid = depth[p] + 0.5
    xs = np.column_stack([x[p], x[p], x[child], x[child], np.full(child.size, np.nan)]).ravel()
    ys = np.column_stack([depth[p], mid, mid, depth[child], np.full(child.size, np.nan)]).ravel()
    return ([None if np.isnan(v) else float(v) for v in xs], [None if np.isnan(v) else float(v) for v in ys])


def colour_scale(cmap: str | None = None, steps: int = 11) -> list[list[float | str]]:
    """The static figure's colour map (``TOXICITY_CMAP``) as a Plotly colour scale over [0, 1].

    >>> colour_scale(steps=2)
    [[0.0, '#440154'], [1.0, '#fde725']]
    """
    import matplotlib

    from toolkit.plots.base import TOXICITY_CMAP

    rgb = matplotlib.colormaps[cmap or TOXICITY_CMAP](np.linspace(0, 1, steps))[:, :3]
    codes = np.rint(rgb * 255).astype(np.int64).tolist()
    return [[float(p), f"#{r:02x}{g:02x}{b:02x}"] for p, (r, g, b) in zip(np.linspace(0, 1, steps), codes, strict=True)]


def node_opacity(scores: np.ndarray | Sequence[float | None], threshold: float) -> np.ndarray:
    """Marker opacity: 1 at or above ``threshold``, :data:`FADED` below it, so the nodes at or above it stand
    out while keeping their colour; 1 for no score (drawn white, see the tree's ``no text`` marks).

    >>> node_opacity([1.0, 0.5, 0.2, None], 0.5).tolist()
    [1.0, 1.0, 0.25, 1.0]
    """
    s = np.asarray([np.nan if v is None else v for v in scores], dtype=np.float64)
    return np.where(s < threshold, FADED, 1.0)


def search_matches(nodes: pl.DataFrame, query: str) -> np.ndarray:
    """Rows matching a search: ``author:NAME`` matches the author exactly (case-insensitive); anything else is a
    keyword found in the text or the author name (case-insensitive, literal). An empty query matches nothing.

    >>> import polars as pl
    >>> nodes = pl.DataFrame({"author": ["Ann", "bob"], "text": ["I agree, bob", None]})
    >>> search_matches(nodes, "bob").tolist(), search_matches(nodes, "author:ANN").tolist()
    ([True, True], [True, False])
    """
    q = query.strip().lower()
    if not q:
        return np.zeros(nodes.height, dtype=bool)
    author = pl.col("author").str.to_lowercase()
    if q.startswith("author:"):
        cond = author == q.removeprefix("author:").strip()
    else:
        cond = (pl.col("text").str.to_lowercase().str.contains(q, literal=True)
                | author.str.contains(q, literal=True))
    return nodes.select(cond.fill_null(False))[:, 0].to_numpy().astype(bool)


def subthread(nodes: pl.DataFrame, index: int) -> list[int]:
    """Row ``index`` and every reply below it, depth first (children in row order).

    >>> import polars as pl
    >>> subthread(pl.DataFrame({"parent_index": [-1, 0, 0, 1]}), 1)
    [1, 3]
    """
    parent = nodes["parent_index"].to_list()
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        if p >= 0 and p != i:
            children.setdefault(p, []).append(i)
    out, stack, seen = [], [index], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        out.append(node)
        stack.extend(reversed(children.get(node, [])))
    return out


def _first_line(text: str | None, width: int = 80) -> str:
    if text is None:
        return "(no text)"
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def hover_texts(nodes: pl.DataFrame, labels: Sequence[str]) -> list[str]:
    """Each node's hover text: author, reply depth, flags, the score(s) and the first line of its text.

    >>> import polars as pl
    >>> nodes = pl.DataFrame({"author": ["ann"], "reply_depth": [2], "removed": [False], "deleted": [False],
    ...                       "is_post": [False], "text": ["hi\\nthere"], "toxicity": [0.25]})
    >>> hover_texts(nodes, ["toxicity"])
    ['<b>ann</b> · depth 2<br>toxicity 0.250<br>hi']
    """
    out = []
    for row in nodes.iter_rows(named=True):
        flags = "".join(f" · {f}" for f in ("removed", "deleted") if row.get(f))
        kind = " · post" if row.get("is_post") else ""
        depth = row.get("reply_depth")
        scores = " · ".join(f"{label} {'-' if _missing(row.get(label)) else f'{row[label]:.3f}'}"
                            for label in labels)
        out.append(f"<b>{html.escape(str(row.get('author') or '?'))}</b> · depth "
                   f"{'?' if depth is None else depth}{kind}{flags}<br>{scores}<br>"
                   f"{html.escape(_first_line(row.get('text')))}")
    return out


def _missing(value: Any) -> bool:
    return value is None or value != value


def view_counts(nodes: pl.DataFrame, label: str, threshold: float, matches: np.ndarray | None = None,
                selected: Sequence[int] = ()) -> dict[str, Any]:
    """The counts shown above the tree: comments, scored ones, those at or above ``threshold`` (and their share
    of the scored), removed, deleted, search matches and selected rows. The post is not a comment.

    >>> import polars as pl
    >>> nodes = pl.DataFrame({"is_post": [True, False, False, False], "toxicity": [0.9, 0.6, 0.2, None],
    ...                       "removed": [False, False, False, True], "deleted": [False] * 4})
    >>> view_counts(nodes, "toxicity", 0.5)
    {'comments': 3, 'scored': 2, 'above': 1, 'share': 0.5, 'removed': 1, 'deleted': 0, 'matches': 0, 'selected': 0}
    """
    comment = ~nodes["is_post"].fill_null(False).to_numpy()
    score = nodes[label].cast(pl.Float64).fill_nan(None).fill_null(np.nan).to_numpy()
    scored = comment & ~np.isnan(score)
    above = scored & (np.nan_to_num(score, nan=-np.inf) >= threshold)
    return {
        "comments": int(comment.sum()), "scored": int(scored.sum()), "above": int(above.sum()),
        "share": float(above.sum() / scored.sum()) if scored.any() else None,
        "removed": int((nodes["removed"].fill_null(False).to_numpy() & comment).sum()),
        "deleted": int((nodes["deleted"].fill_null(False).to_numpy() & comment).sum()),
        "matches": int(matches.sum()) if matches is not None else 0, "selected": len(selected),
    }


def format_counts(counts: dict[str, Any], label: str, threshold: float) -> str:
    """One line of :func:`view_counts`.

    >>> format_counts({'comments': 3, 'scored': 2, 'above': 1, 'share': 0.5, 'removed': 1, 'deleted': 0,
    ...                'matches': 0, 'selected': 0}, "toxicity", 0.5)
    '3 comments · 1 with toxicity ≥ 0.50 (50.0% of 2 scored) · 1 removed · 0 deleted · 0 search matches · 0 selected'
    """
    share = "-" if counts["share"] is None else f"{100 * counts['share']:.1f}%"
    return (f"{counts['comments']:,} comments · {counts['above']:,} with {label} ≥ {threshold:.2f} ({share} of "
            f"{counts['scored']:,} scored) · {counts['removed']:,} removed · {counts['deleted']:,} deleted · "
            f"{counts['matches']:,} search matches · {counts['selected']:,} selected")


# --------------------------------------------------------------------------------------------- state


@dataclass
class ExploreState:
    """What the explorer shows, without any widget: the frame, the colouring label and threshold, the thread, the
    search, the selected rows (the table) and the focused row (the comment read in full).

    Every change goes through a method that keeps the derived fields (``threads``, ``nodes``, ``matches``)
    in step; the widget only calls these and redraws.

    >>> from toolkit.analysis.synthetic import example_threads
    >>> state = ExploreState.create(example_threads())
    >>> state.thread_id, state.counts()["comments"]
    ('a', 4)
    >>> state.click(1); [state.nodes["comment_id"][i] for i in state.selected]  # a1 and its replies
    ['a1', 'a2', 'a3']
    """

    frame: pl.DataFrame
    labels: list[str]
    label: str
    threshold: float = 0.5
    thread_id: str = ""
    query: str = ""
    sort: str = "size"
    thread_filter: str = ""
    max_nodes: int = 5000
    selected: list[int] = field(default_factory=list)
    focus: int | None = None
    threads: pl.DataFrame = field(default_factory=pl.DataFrame)
    nodes: pl.DataFrame = field(default_factory=pl.DataFrame)
    matches: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def create(cls, frame: pl.DataFrame, *, labels: Sequence[str] | None = None, label: str | None = None,
               threshold: float = 0.5, thread_id: str | None = None, max_nodes: int = 5000) -> ExploreState:
        """The state on ``frame``'s largest thread (or ``thread_id``), coloured by ``label`` (default: the first
        of :func:`candidate_labels`)."""
        for column in ("thread_id", "comment_id", "parent_id", "is_post", "removed", "deleted"):
            if column not in frame.columns:
                raise ConfigError("frame", f"no column {column!r}: not a comment frame (toolkit.load makes one)")
        found = candidate_labels(frame, labels)
        if label is not None and label not in found:
            raise ConfigError("label", f"{label!r}: not among the score columns {found}")
        state = cls(frame=frame, labels=found, label=label or found[0], threshold=float(threshold),
                    max_nodes=max_nodes)
        state.threads = thread_list(frame, state.label, state.threshold)
        if state.threads.height == 0:
            raise ConfigError("frame", "no rows to explore")
        if thread_id is None:
            thread_id = sort_threads(state.threads, "size")["thread_id"][0]
        state.set_thread(str(thread_id))
        return state

    # -- changes
    def set_thread(self, thread_id: str) -> None:
        """Show another thread (selection, focus and search matches start afresh)."""
        if thread_id not in self.threads["thread_id"].to_list():
            raise ConfigError("thread_id", f"no thread {thread_id!r}; threads: {self.threads['thread_id'].to_list()[:20]}")
        self.thread_id = thread_id
        self.nodes = tree_nodes(self.frame, thread_id, self.labels, max_nodes=self.max_nodes)
        self.selected, self.focus = [], None
        self.matches = search_matches(self.nodes, self.query)

    def set_label(self, label: str) -> None:
        """Colour by another score column (the thread list's toxic share follows it)."""
        if label not in self.labels:
            raise ConfigError("label", f"{label!r}: not among the score columns {self.labels}")
        self.label = label
        self.threads = thread_list(self.frame, self.label, self.threshold)

    def set_threshold(self, threshold: float) -> None:
        """Move the threshold: colours, counts and the thread list's toxic share follow."""
        self.threshold = float(threshold)
        self.threads = thread_list(self.frame, self.label, self.threshold)

    def search(self, query: str) -> None:
        """Highlight the nodes matching ``query`` (see :func:`search_matches`)."""
        self.query = query
        self.matches = search_matches(self.nodes, query)

    def click(self, index: int) -> None:
        """A click on a node: it is read in full, and its sub-thread fills the table."""
        self._check(index)
        self.focus = index
        self.selected = subthread(self.nodes, index)

    def select(self, indices: Sequence[int]) -> None:
        """Rows picked in the tree (box or lasso): they fill the table, the first is read in full."""
        for i in indices:
            self._check(i)
        self.selected = list(dict.fromkeys(int(i) for i in indices))
        self.focus = self.selected[0] if self.selected else None

    def focus_row(self, index: int) -> None:
        """A row picked in the table: read it in full and mark it in the tree; the table stays."""
        self._check(index)
        self.focus = index

    def index_of(self, comment_id: str) -> int:
        """The row of ``comment_id`` in the shown thread."""
        found = np.flatnonzero(self.nodes["comment_id"].to_numpy() == comment_id)
        if not found.size:
            raise KeyError(f"no comment {comment_id!r} in thread {self.thread_id!r}")
        return int(found[0])

    def _check(self, index: int) -> None:
        if not 0 <= index < self.nodes.height:
            raise IndexError(f"row {index} of a {self.nodes.height}-node tree")

    # -- derived views
    def visible_threads(self) -> pl.DataFrame:
        """The thread list as shown: filtered, then sorted."""
        return sort_threads(filter_threads(self.threads, self.thread_filter), self.sort)

    def scores(self) -> np.ndarray:
        """The shown thread's scores on the current label (NaN: no score), which colour the nodes."""
        return self.nodes[self.label].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def opacity(self) -> np.ndarray:
        """The nodes' opacity at the current threshold (see :func:`node_opacity`)."""
        return node_opacity(self.scores(), self.threshold)

    def counts(self) -> dict[str, Any]:
        """The counts line's numbers (see :func:`view_counts`)."""
        return view_counts(self.nodes, self.label, self.threshold, self.matches, self.selected)

    def table(self) -> pl.DataFrame:
        """The selected sub-thread as rows: ``row`` (in the tree), ``comment_id``, ``reply_depth``, ``author``,
        the score columns, flags and the first line of text."""
        rows = self.nodes.with_row_index("row")[self.selected] if self.selected else self.nodes.head(0).with_row_index("row")
        texts = rows["text"].to_list() if "text" in rows.columns else [None] * rows.height
        return rows.select("row", "comment_id", "reply_depth", "author", *self.labels, "removed", "deleted").with_columns(
            text=pl.Series([_first_line(t) for t in texts], dtype=pl.String))

    def detail(self) -> pl.DataFrame:
        """The focused comment with its parent and its direct replies, full text (``toolkit.notebook.context``)."""
        from toolkit.notebook import context

        if self.focus is None:
            return pl.DataFrame()
        rows = self.frame.filter(pl.col("thread_id") == self.thread_id)
        return context(rows, self.nodes["comment_id"][self.focus], text_width=None,
                       columns=[c for c in ("comment_id", "reply_depth", "author", *self.labels, "removed",
                                            "deleted") if c in rows.columns])

    def selection_frame(self) -> pl.DataFrame:
        """The selected rows of the original frame, every column, in tree order."""
        ids = self.nodes["comment_id"][self.selected] if self.selected else pl.Series([], dtype=pl.String)
        rows = self.frame.filter((pl.col("thread_id") == self.thread_id) & pl.col("comment_id").is_in(ids))
        order = pl.DataFrame({"comment_id": ids, "__order": range(len(ids))}, schema_overrides={"__order": pl.Int64})
        return rows.join(order, on="comment_id", how="left").sort("__order").drop("__order")

    def figure_table(self, selection_only: bool = False) -> tuple[pl.DataFrame, str]:
        """The static thread-tree figure's table (``thread_tree_table``'s columns) of the shown thread coloured
        by the current label, or of the selection only; and its caption note."""
        from toolkit.analysis.thread_tables import thread_tree_table

        table, note = thread_tree_table(self.frame, label=self.label, thread_id=self.thread_id,
                                        max_nodes=self.max_nodes)
        if selection_only and self.selected:
            ids = self.nodes["comment_id"][self.selected]
            table = table.filter(pl.col("comment_id").is_in(ids))
            note = f"sub-thread of {self.nodes['comment_id'][self.selected[0]]}: {table.height:,} rows; " + note
        return table, note

    def export_figure(self, out_dir: str | Path, *, formats: Sequence[str] = ("png", "pdf"), dpi: int = 300,
                      selection_only: bool = False, style: str = "paper") -> list[Path]:
        """Write the current view as the static figure (paper style), with its data table and spec."""
        from toolkit.plots.figures import FigureSpec, save_figure

        table, note = self.figure_table(selection_only)
        name = f"thread_tree_{self.thread_id}_{self.label}" + ("_selection" if selection_only and self.selected else "")
        spec = FigureSpec(name, "thread_tree", f"Thread {self.thread_id} as a tree", note,
                          {"label": self.label, "threshold": self.threshold})
        return save_figure(table, spec, out_dir, style=style, width="double", formats=tuple(formats), dpi=dpi)

    def static_png(self, dpi: int = 80) -> bytes:
        """The static thread-tree figure of the shown thread as PNG bytes (the widget's fallback)."""
        from toolkit.notebook import draw_figure
        from toolkit.plots.figures import FigureSpec

        table, note = self.figure_table()
        spec = FigureSpec("thread_tree", "thread_tree", f"Thread {self.thread_id} as a tree", note,
                          {"label": self.label})
        fig = draw_figure(spec, table, width="double", dpi=dpi)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()


# --------------------------------------------------------------------------------------------- widget

_CSS = """<style>
.toolkit-explore-table select { font-family: monospace; font-size: 12px; }
.toolkit-explore-threads select { font-family: monospace; font-size: 12px; }
.toolkit-explore-detail { font-size: 13px; line-height: 1.35; }
.toolkit-explore-detail .tk-role { color: #555; font-size: 11px; text-transform: uppercase; }
.toolkit-explore-detail .tk-comment { border-left: 3px solid #0072B2; padding-left: 6px; margin: 4px 0; }
.toolkit-explore-detail .tk-other { border-left: 3px solid #ccc; padding-left: 6px; margin: 4px 0; color: #333; }
</style>"""


def _thread_option(row: dict[str, Any]) -> str:
    share = "  -  " if row["toxic_share"] is None else f"{100 * row['toxic_share']:4.0f}%"
    return (f"{row['thread_id'][:12]:<12} {row['comments']:>5}c d{row['depth']:<3} {share} "
            f"{row['removed']:>3}r {row['deleted']:>3}d  {row['title'][:40]}")


def _table_option(row: dict[str, Any], label: str, base_depth: int) -> str:
    score = row.get(label)
    depth = row.get("reply_depth")
    indent = "  " * max(0, min(8, (depth or 0) - base_depth))
    flags = ("R" if row.get("removed") else " ") + ("D" if row.get("deleted") else " ")
    return (f"{'-' if _missing(score) else f'{score:.2f}':>5} {flags} d{'?' if depth is None else depth:<2} "
            f"{str(row.get('author') or '?')[:14]:<14} {indent}{row.get('text') or ''}")


def _detail_html(detail: pl.DataFrame, labels: Sequence[str]) -> str:
    if detail.height == 0:
        return "<i>Click a node (or a row of the table) to read the comment with its parent and replies.</i>"
    parts = []
    for row in detail.iter_rows(named=True):
        scores = " · ".join(f"{label} {'-' if _missing(row.get(label)) else f'{row[label]:.3f}'}" for label in labels)
        flags = "".join(f" · <b>{f}</b>" for f in ("removed", "deleted") if row.get(f))
        text = row.get("text")
        if text is not None and row["role"] != "comment" and len(text) > 300:  # the comment whole, the rest cut
            text = text[:299] + "…"
        body = "<i>(no text)</i>" if text is None else html.escape(text).replace("\n", "<br>")
        css = "tk-comment" if row["role"] == "comment" else "tk-other"
        parts.append(f'<div class="{css}"><span class="tk-role">{html.escape(row["role"])}</span> '
                     f"<b>{html.escape(str(row.get('author') or '?'))}</b> · depth {row.get('reply_depth')} · "
                     f"{html.escape(str(row['comment_id']))} · {scores}{flags}<div>{body}</div></div>")
    return "".join(parts)


# Mirrors node_opacity in the browser, so that the slider fades the nodes at once, without the kernel's round
# trip; the kernel then sends the same opacities through Plotly (and the counts). Linked to the slider by jslink.
_RECOLOUR_ESM = """
function apply(model, el) {
  const root = el.closest('.toolkit-explore');
  const traces = root ? root.querySelectorAll('.toolkit-explore-tree .scatterlayer .trace') : [];
  if (traces.length < 2) return;
  const points = traces[1].querySelectorAll('path.point');
  const scores = model.get('scores'), threshold = model.get('threshold'), faded = model.get('faded');
  if (points.length !== scores.length) return;
  for (let i = 0; i < points.length; i++) {
    const s = scores[i];
    points[i].style.opacity = (s !== null && s < threshold) ? faded : 1;
  }
}
export default {
  render({ model, el }) {
    const f = () => apply(model, el);
    model.on('change:threshold', f);
    return () => model.off('change:threshold', f);
  }
};
"""


@lru_cache(maxsize=1)
def _recolour_class() -> type:
    import anywidget
    import traitlets

    class Recolour(anywidget.AnyWidget):
        """The browser-side fading of the nodes below the threshold (see ``_RECOLOUR_ESM``)."""

        _esm = _RECOLOUR_ESM
        scores = traitlets.List().tag(sync=True)
        threshold = traitlets.Float(0.5).tag(sync=True)
        faded = traitlets.Float(FADED).tag(sync=True)

    return Recolour


# Plotly's FigureWidget ships plotly.js (5 MB) as its anywidget module with every figure, and the browser
# evaluates it anew for each one (anywidget imports each module from a fresh blob URL): about half a second per
# explorer opened. The tree's figure instead carries this small module, which evaluates the bundle once per page
# and shares it; the bundle's text is sent once per kernel, in a hidden widget the figures name by model id
# (saved widget state holds it too, so a notebook saved with its widgets still draws).
_SHARED_PLOTLY_ESM = """
const loads = (globalThis.__toolkitPlotlyBundles ??= new Map());
function plotlyWidget(model) {
  const key = model.get('bundle_key');
  if (!loads.has(key)) {
    const load = (async () => {
      const holder = await model.widget_manager.get_model(model.get('bundle_model'));
      const url = URL.createObjectURL(new Blob([holder.get('source')], { type: 'text/javascript' }));
      try { return (await import(url)).default; } finally { URL.revokeObjectURL(url); }
    })();
    load.catch(() => loads.delete(key));
    loads.set(key, load);
  }
  return loads.get(key);
}
export default () => {
  let inner;
  return {
    async initialize(ctx) { inner = (await plotlyWidget(ctx.model))(); return inner.initialize?.(ctx); },
    render(ctx) { return inner.render(ctx); },
  };
};
"""


@lru_cache(maxsize=1)
def _figure_class() -> type:
    """Plotly's FigureWidget with :data:`_SHARED_PLOTLY_ESM` as its module (same Python API, same drawing)."""
    import plotly.graph_objects as go
    import traitlets

    class SharedBundleFigure(go.FigureWidget):
        """A FigureWidget whose plotly.js bundle is evaluated once per page (see ``_SHARED_PLOTLY_ESM``)."""

        _esm = _SHARED_PLOTLY_ESM
        bundle_model = traitlets.Unicode().tag(sync=True)
        bundle_key = traitlets.Unicode().tag(sync=True)

        @traitlets.default("bundle_model")
        def _holder_id(self) -> str:
            return _bundle_holder().model_id

        @traitlets.default("bundle_key")
        def _holder_key(self) -> str:
            return _bundle_holder().key

    return SharedBundleFigure


_BUNDLE_HOLDER: list[Any] = []  # the kernel's one live widget holding plotly's widget bundle


def _bundle_holder() -> Any:
    """The hidden widget holding plotly's anywidget bundle (made once per kernel, again if it was closed)."""
    if not _BUNDLE_HOLDER or _BUNDLE_HOLDER[0].comm is None:
        import hashlib

        import ipywidgets as widgets
        import plotly.graph_objects as go
        import traitlets

        class PlotlyBundle(widgets.Widget):
            source = traitlets.Unicode().tag(sync=True)

        source = str(go.FigureWidget._esm)
        holder = PlotlyBundle(source=source)
        holder.key = hashlib.sha256(source.encode()).hexdigest()[:16]
        _BUNDLE_HOLDER[:] = [holder]
    return _BUNDLE_HOLDER[0]


def _widget_classes() -> tuple[Any, Any]:
    import ipywidgets as widgets
    import plotly.graph_objects as go

    return widgets, go


class Explorer:
    """The interactive explorer (made by :func:`explore`): controls, the tree, the comment, the table.

    Display it as a cell's value. ``state`` is its :class:`ExploreState`; ``widget`` the ipywidgets box;
    ``figure`` the Plotly ``FigureWidget``. Its methods do what the controls do, for scripts and tests.
    """

    def __init__(self, state: ExploreState, *, export_dir: str | Path = "explore_exports",
                 static_fallback: bool = True) -> None:
        widgets, go = _widget_classes()
        self.state, self.export_dir, self.static_fallback = state, Path(export_dir), static_fallback
        self._busy = False
        self.label = widgets.Dropdown(options=state.labels, value=state.label, description="colour by",
                                      layout=widgets.Layout(width="220px"))
        self.threshold = widgets.FloatSlider(value=state.threshold, min=0.0, max=1.0, step=0.01, description="threshold",
                                             continuous_update=False, readout_format=".2f",
                                             layout=widgets.Layout(width="330px"))
        self.threshold.add_class("toolkit-explore-threshold")
        self.search = widgets.Text(value="", placeholder="keyword, or author:NAME", description="search",
                                   continuous_update=False, layout=widgets.Layout(width="300px"))
        self.search.add_class("toolkit-explore-search")
        self.counts = widgets.HTML()
        self.counts.add_class("toolkit-explore-counts")
        self.sort = widgets.Dropdown(options=list(SORT_KEYS), value=state.sort, description="sort by",
                                     layout=widgets.Layout(width="200px"))
        self.thread_filter = widgets.Text(value="", placeholder="filter threads (id or title)",
                                          continuous_update=False, layout=widgets.Layout(width="200px"))
        self.threads = widgets.Select(rows=14, layout=widgets.Layout(width="430px"))
        self.threads.add_class("toolkit-explore-threads")
        self.detail = widgets.HTML(layout=widgets.Layout(width="50%", max_height="360px", overflow="auto"))
        self.detail.add_class("toolkit-explore-detail")
        self.table = widgets.Select(rows=12, layout=widgets.Layout(width="50%"))
        self.table.add_class("toolkit-explore-table")
        self.export_png = widgets.Button(description="figure (PNG, PDF)", icon="download")
        self.export_rows = widgets.Button(description="selection (CSV)", icon="table")
        self.message = widgets.HTML()
        self.message.add_class("toolkit-explore-message")

        self.figure = _figure_class()(self._traces(go), self._layout())
        self.figure.data[1].on_click(self._on_click)
        self.figure.data[1].on_selection(self._on_selection)
        self._recolour = _recolour_class()(threshold=state.threshold, layout=widgets.Layout(display="none"))
        widgets.jslink((self.threshold, "value"), (self._recolour, "threshold"))
        self._box = widgets.Box([self.figure], layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        self._box.add_class("toolkit-explore-tree")
        self.widget = widgets.VBox([
            widgets.HTML(_CSS),
            widgets.HBox([self.label, self.threshold, self.search]),
            self.counts,
            widgets.HBox([widgets.VBox([widgets.HBox([self.sort, self.thread_filter]), self.threads]), self._box]),
            widgets.HBox([self.detail, widgets.VBox([self.table, widgets.HBox([self.export_png, self.export_rows]),
                                                     self.message], layout=widgets.Layout(width="50%"))]),
            self._recolour,
        ])
        self.widget.add_class("toolkit-explore")

        self.label.observe(lambda ch: self.set_label(ch["new"]), "value")
        self.threshold.observe(lambda ch: self.set_threshold(ch["new"]), "value")
        self.search.observe(lambda ch: self.set_search(ch["new"]), "value")
        self.sort.observe(lambda ch: self._set_sort(ch["new"]), "value")
        self.thread_filter.observe(lambda ch: self._set_thread_filter(ch["new"]), "value")
        self.threads.observe(self._on_thread_pick, "value")
        self.table.observe(self._on_table_pick, "value")
        self.export_png.on_click(lambda _: self.export_figure())
        self.export_rows.on_click(lambda _: self.export_selection())
        self._refresh_threads()
        self._refresh_all()

    # -- drawing
    def _traces(self, go: Any) -> list[Any]:
        skip = {"hoverinfo": "skip", "showlegend": False}
        return [
            go.Scatter(mode="lines", line={"color": "#a6a6a6", "width": 1}, name="edges", **skip),
            go.Scatter(mode="markers", name="comments", hovertemplate="%{hovertext}<extra></extra>",
                       showlegend=False),
            # the marks' style is sent by _refresh_all: given here, it does not reach Plotly.js (plotly 7.1)
            *(go.Scatter(mode="markers", name=spec[0], **skip) for spec in _OVERLAYS.values()),
        ]

    def _layout(self) -> dict[str, Any]:
        return {"margin": {"l": 40, "r": 10, "t": 50, "b": 20}, "title": {"x": 0.02, "y": 0.98}, "hovermode": "closest", "dragmode": "zoom",
                "plot_bgcolor": "white", "clickmode": "event",
                "xaxis": {"visible": False}, "yaxis": {"autorange": "reversed", "title": "reply depth (0 = post)",
                                                       "dtick": 1, "zeroline": False, "gridcolor": "#eeeeee"}}

    def _title(self) -> str:
        s = self.state
        return f"Thread {s.thread_id}: {s.nodes.height - 1:,} comments · colour: {s.label}, purple 0 → yellow 1"

    def _marker_size(self) -> float:
        leaves = max(1.0, float(self.state.nodes["x"].max() or 0) + 1)
        return float(np.clip(0.8 * 700 / leaves, 4, 12))

    def _refresh_all(self) -> None:
        """Redraw everything for a new thread."""
        s, nodes = self.state, self.state.nodes
        x, y = nodes["x"].to_list(), nodes["depth"].to_list()
        ex, ey = (np.array(v, dtype=np.float64) for v in tree_edges(nodes))  # None -> NaN: the breaks
        size = self._marker_size()
        removed = nodes["removed"].fill_null(False).to_numpy()
        deleted = nodes["deleted"].fill_null(False).to_numpy()
        symbols = ["square" if p else "circle" for p in nodes["is_post"].fill_null(False).to_list()]
        max_depth = int(nodes["depth"].max() or 0)
        with self.figure.batch_update():
            self.figure.data[0].update(x=ex, y=ey)
            # Plotly.js replaces a whole `marker` given as a dict: set its fields one by one (marker.color, ...)
            self.figure.data[1].update(x=nodes["x"].to_numpy(), y=nodes["depth"].to_numpy().astype(np.float64),
                                       hovertext=hover_texts(nodes, s.labels))
            marker = self.figure.data[1].marker
            marker.color, marker.opacity = s.scores(), s.opacity()
            self._recolour.scores = [None if np.isnan(v) else float(v) for v in s.scores()]
            marker.size, marker.symbol = size, symbols
            marker.colorscale, marker.cmin, marker.cmax = colour_scale(), 0.0, 1.0
            marker.line.color, marker.line.width = "black", 0.5
            marker.showscale = False  # the title names the scale (a colour bar here drew garbled in plotly 7.1)
            unscored = np.isnan(s.scores())
            for trace, mask in ((NO_TEXT, unscored), (DELETED, deleted), (REMOVED, removed)):
                self.figure.data[trace].update(x=_pick(x, mask), y=_pick(y, mask))
            for trace, (_, symbol, colour, width, scale) in _OVERLAYS.items():
                overlay = self.figure.data[trace].marker
                overlay.symbol, overlay.color, overlay.size = symbol, colour, size * scale
                overlay.line.width, overlay.line.color = width, ("#4d4d4d" if trace == NO_TEXT else colour)
            self.figure.layout.height = int(np.clip(120 + 40 * (max_depth + 1), 320, 640))
            self.figure.layout.title = {"text": self._title(), "font": {"size": 13}}
            self.figure.layout.xaxis.range = None
            self.figure.layout.yaxis.autorange = "reversed"
            self._set_marks()
        self._refresh_counts()
        self._refresh_table()

    def _set_marks(self) -> None:
        s, nodes = self.state, self.state.nodes
        x, y = nodes["x"].to_numpy(), nodes["depth"].to_numpy()
        match = np.flatnonzero(s.matches)
        sel = np.asarray(s.selected, dtype=np.int64)
        focus = np.asarray([] if s.focus is None else [s.focus], dtype=np.int64)
        for trace, rows in ((SEARCH, match), (SELECTED, sel), (FOCUS, focus)):
            self.figure.data[trace].update(x=x[rows].tolist(), y=y[rows].tolist())

    def _refresh_counts(self) -> None:
        self.counts.value = f"<b>{html.escape(format_counts(self.state.counts(), self.state.label, self.state.threshold))}</b>"

    def _refresh_table(self) -> None:
        s = self.state
        self._busy = True
        try:
            table = s.table()
            base = int(table["reply_depth"].min() or 0) if table.height else 0
            self.table.options = [(_table_option(r, s.label, base), r["row"]) for r in table.iter_rows(named=True)]
            self.table.value = s.focus if s.focus in s.selected else None
        finally:
            self._busy = False
        self.detail.value = _detail_html(s.detail(), s.labels)

    def _refresh_threads(self) -> None:
        shown = self.state.visible_threads()
        self._busy = True
        try:
            self.threads.options = [(_thread_option(r), r["thread_id"]) for r in shown.iter_rows(named=True)]
            self.threads.value = self.state.thread_id if self.state.thread_id in shown["thread_id"].to_list() else None
        finally:
            self._busy = False

    # -- actions (what the controls do)
    def set_threshold(self, threshold: float) -> None:
        """Recolour the tree and update the counts for a new threshold."""
        self.state.set_threshold(threshold)
        if self.threshold.value != threshold:
            self.threshold.value = threshold
        self.figure.data[1].marker.opacity = self.state.opacity()
        self._refresh_counts()
        self._refresh_threads()

    def set_label(self, label: str) -> None:
        """Colour by another score column."""
        self.state.set_label(label)
        if self.label.value != label:
            self.label.value = label
        unscored = np.isnan(self.state.scores())
        x, y = self.state.nodes["x"].to_list(), self.state.nodes["depth"].to_list()
        with self.figure.batch_update():
            self.figure.data[1].marker.color = self.state.scores()
            self._recolour.scores = [None if np.isnan(v) else float(v) for v in self.state.scores()]
            self.figure.data[1].marker.opacity = self.state.opacity()
            self.figure.layout.title.text = self._title()
            self.figure.data[NO_TEXT].update(x=_pick(x, unscored), y=_pick(y, unscored))
        self._refresh_counts()
        self._refresh_threads()
        self._refresh_table()

    def set_search(self, query: str) -> None:
        """Highlight the nodes matching ``query``."""
        self.state.search(query)
        if self.search.value != query:
            self.search.value = query
        self._set_marks()
        self._refresh_counts()

    def show_thread(self, thread_id: str) -> None:
        """Show another thread."""
        self.state.set_thread(thread_id)
        self._refresh_all()
        self._refresh_threads()

    def click(self, index: int) -> None:
        """What a click on node ``index`` does: read it in full, its sub-thread in the table."""
        self.state.click(index)
        self._set_marks()
        self._refresh_counts()
        self._refresh_table()

    def click_comment(self, comment_id: str) -> None:
        """:meth:`click` by comment id."""
        self.click(self.state.index_of(comment_id))

    def select(self, indices: Sequence[int]) -> None:
        """What a box or lasso selection does: those rows in the table."""
        self.state.select(indices)
        self._set_marks()
        self._refresh_counts()
        self._refresh_table()

    def pick_row(self, index: int) -> None:
        """What picking a table row does: read it in full, mark it in the tree."""
        self.state.focus_row(index)
        self._set_marks()
        self._refresh_table()

    def selection_frame(self) -> pl.DataFrame:
        """The selected rows of the frame (see :meth:`ExploreState.selection_frame`)."""
        return self.state.selection_frame()

    def export_figure(self, out_dir: str | Path | None = None, **kwargs: Any) -> list[Path]:
        """Write the current view as the paper-style thread-tree figure (PNG and PDF) to ``out_dir``."""
        paths = self.state.export_figure(out_dir or self.export_dir, **kwargs)
        self.message.value = "wrote " + ", ".join(html.escape(str(p)) for p in paths if p.suffix in (".png", ".pdf"))
        return paths

    def export_selection(self, out_dir: str | Path | None = None) -> Path:
        """Write the selection as CSV (nested columns as JSON) to ``out_dir``; also :meth:`selection_frame`."""
        frame = self.selection_frame()
        out = Path(out_dir or self.export_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"selection_{self.state.thread_id}.csv"
        flat = frame.with_columns(pl.col(c).map_elements(json.dumps, return_dtype=pl.String)
                                  for c, t in frame.schema.items() if t.is_nested())
        flat.write_csv(path)
        self.message.value = f"wrote {html.escape(str(path))} ({frame.height} rows)"
        return path

    # -- events
    def _on_click(self, trace: Any, points: Any, selector: Any) -> None:
        if points.point_inds:
            self.click(int(points.point_inds[0]))

    def _on_selection(self, trace: Any, points: Any, selector: Any) -> None:
        if points.point_inds:
            self.select([int(i) for i in points.point_inds])

    def _on_thread_pick(self, change: dict[str, Any]) -> None:
        if not self._busy and change["new"] is not None and change["new"] != self.state.thread_id:
            self.show_thread(change["new"])

    def _on_table_pick(self, change: dict[str, Any]) -> None:
        if not self._busy and change["new"] is not None:
            self.pick_row(int(change["new"]))

    def _set_sort(self, by: str) -> None:
        self.state.sort = by
        self._refresh_threads()

    def _set_thread_filter(self, query: str) -> None:
        self.state.thread_filter = query
        self._refresh_threads()

    # -- display
    def _bundle(self) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_()
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/plain"] = repr(self)
        return data

    def _fallback_bundle(self) -> dict[str, Any]:
        """A hidden widget's view with the static tree as ``image/png``: where widgets render (JupyterLab, VS Code)
        it shows nothing; where they do not (nbconvert's HTML of a notebook saved without widget state, GitHub)
        it shows the static thread-tree figure of the thread shown."""
        import ipywidgets as widgets

        self._hidden = widgets.HTML(layout=widgets.Layout(display="none"))
        data = dict(self._hidden._repr_mimebundle_())
        data["image/png"] = base64.b64encode(self.state.static_png()).decode()
        data["text/plain"] = f"static figure: thread {self.state.thread_id} coloured by {self.state.label}"
        return data

    def _ipython_display_(self) -> None:
        """Two outputs: the widget at once (the tree opens without waiting), then the static fallback."""
        from IPython.display import display

        display(self._bundle(), raw=True)
        if self.static_fallback:
            display(self._fallback_bundle(), raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget view and the static figure as ``image/png`` in one bundle (for front ends that ask for a
        bundle; Jupyter uses :meth:`_ipython_display_`)."""
        data = self._bundle()
        data["image/png"] = base64.b64encode(self.state.static_png()).decode()
        return data

    def __repr__(self) -> str:
        s = self.state
        return (f"Explorer(thread {s.thread_id!r}, {s.nodes.height} nodes, {s.threads.height} threads, "
                f"colour by {s.label!r} at {s.threshold:.2f})")


def _pick(values: list[Any], mask: np.ndarray) -> list[Any]:
    return [v for v, m in zip(values, mask.tolist(), strict=True) if m]


def explore(
    source: pl.DataFrame | str | Path,
    *,
    labels: Sequence[str] | None = None,
    label: str | None = None,
    threshold: float | None = None,
    thread_id: str | None = None,
    max_nodes: int = 5000,
    export_dir: str | Path = "explore_exports",
    static_fallback: bool = True,
) -> Explorer:
    """An interactive explorer of a scored comment frame or of a run directory (its ``comments.parquet``).

    Args:
        source: a scored comment frame, or a run directory (threshold from its manifest unless given).
        labels: the columns the tree may be coloured by (default: :func:`candidate_labels`).
        label: the first colouring (default: the first of ``labels``).
        threshold: the slider's start (default: the run's ``analysis.threshold``, else 0.5).
        thread_id: the thread shown first (default: the largest).
        max_nodes: the most rows of a thread drawn (as the static figure's ``max_nodes``).
        export_dir: where the export buttons write.
        static_fallback: also output the static tree for front ends without widgets (nbconvert); it is drawn
            after the widget is sent, and takes about a second for a 3,000-comment thread.

    Returns:
        An :class:`Explorer`; show it as a cell's value.

    Raises:
        LoadError: a directory that is not a run directory.
        ConfigError: no score column, an unknown label or thread.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> reddit = toolkit.load(nb.data_path("reddit_sample_1j7g9uj.json"))
    >>> scored = reddit.with_columns(toxicity=pl.col("text").str.len_chars().truediv(1000).clip(0, 1))
    >>> nb.explore(scored)
    Explorer(thread '1j7g9uj', 68 nodes, 1 threads, colour by 'toxicity' at 0.50)
    """
    if isinstance(source, str | Path):
        run = Path(source)
        parquet = run / "comments.parquet"
        if not parquet.is_file():
            raise LoadError(parquet, f"no scored comments: is {run} a toolkit run directory?")
        frame = pl.read_parquet(parquet)
        if threshold is None and (run / "manifest.json").is_file():
            config = json.loads((run / "manifest.json").read_text()).get("config", {})
            threshold = (config.get("analysis") or {}).get("threshold")
    else:
        frame = source
    state = ExploreState.create(frame, labels=labels, label=label, threshold=0.5 if threshold is None else threshold,
                                thread_id=thread_id, max_nodes=max_nodes)
    return Explorer(state, export_dir=export_dir, static_fallback=static_fallback)
