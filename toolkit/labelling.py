"""Labelling an annotation sheet by hand in JupyterLab: one comment at a time with its parent, one key press
per label, written back to the same CSV (``annotation/sample.csv`` of ``+experiment=annotation_sample``).

:class:`LabellingSession` is the logic (which item, what a key does, saving) and needs no notebook;
:func:`labelling_widget` puts ipywidgets around it (``ipywidgets`` is in the ``dev`` extra). In a notebook::

    from toolkit import notebook as nb
    nb.labelling_widget("outputs/annotation_sample/.../annotation/sample.csv", annotator="annotator_1")

Type into the key box (or click): ``1`` toxic, ``0`` not toxic, ``s`` skip, ``b`` back. Every label is saved at
once, so closing the notebook loses nothing; reopening starts at the first item this annotator has not labelled.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import ConfigError

LABEL_PREFIX = "label_"  # as toolkit.analysis.annotation's sheet
DEFAULT_KEYS = {"1": "1", "0": "0"}  # key -> the label written (toolkit.analysis.annotation reads 1/0)
SKIP, BACK = "s", "b"


@dataclass
class LabellingSession:
    """One annotator's pass over a sheet: the current item, key presses, saving after every label.

    ``keys`` maps a key to the label it writes (default 1 and 0); ``s`` skips, ``b`` goes back one item.

    >>> import tempfile
    >>> sheet = Path(tempfile.mkdtemp()) / "sample.csv"
    >>> pl.DataFrame({"item_id": ["item-1", "item-2"], "text": ["you idiot", "thanks"],
    ...               "parent_text": ["hi", None], "label_ann": [None, None]}).write_csv(sheet)
    >>> session = LabellingSession(sheet, "ann")
    >>> session.current()["text"], session.press("1"), session.current()["text"]
    ('you idiot', 'item-1: 1', 'thanks')
    >>> pl.read_csv(sheet)["label_ann"].to_list(), session.progress()
    ([1, None], (1, 2))
    """

    sheet: str | Path
    annotator: str
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    position: int = 0
    table: pl.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sheet = Path(self.sheet).expanduser()
        if not self.sheet.is_file():
            raise ConfigError("sheet", f"no annotation sheet {str(self.sheet)!r} (annotation/sample.csv of an "
                              "annotation_sample run)")
        if {SKIP, BACK} & set(self.keys) or not self.keys:
            raise ConfigError("keys", f"label keys {sorted(self.keys)} must be given and must not be {SKIP!r} (skip) "
                              f"or {BACK!r} (back)")
        table = pl.read_csv(self.sheet, infer_schema_length=0)  # every cell as text, as written
        missing = [c for c in ("item_id", "text") if c not in table.columns]
        if missing:
            raise ConfigError("sheet", f"{self.sheet}: no column {missing[0]!r}; columns: {table.columns}")
        if self.column not in table.columns:
            table = table.with_columns(pl.lit(None, pl.String).alias(self.column))
        self.table = table
        self.position = self.next_unlabelled(0)

    @property
    def column(self) -> str:
        return f"{LABEL_PREFIX}{self.annotator}"

    def next_unlabelled(self, start: int) -> int:
        """The first item from ``start`` on without this annotator's label (the end when there is none)."""
        labels = self.table[self.column].to_list()
        return next((i for i in range(start, len(labels)) if labels[i] in (None, "")), len(labels))

    def current(self) -> dict[str, Any] | None:
        """The item shown now (item_id, text, parent_text, its label so far), or None when all are done."""
        if self.position >= self.table.height:
            return None
        row = self.table.row(self.position, named=True)
        return {"item_id": row["item_id"], "text": row["text"], "parent_text": row.get("parent_text"),
                "label": row[self.column]}

    def press(self, key: str) -> str:
        """Do what ``key`` means: write its label and move to the next unlabelled item, skip, or go back.
        Returns a line saying what happened (an unknown key changes nothing)."""
        if key == BACK:
            self.position = max(0, self.position - 1)
            return f"back to {self.table['item_id'][self.position]}"
        item = self.current()
        if item is None:
            return "all items done"
        if key == SKIP:
            self.position += 1
            return f"{item['item_id']}: skipped"
        if key not in self.keys:
            return f"key {key!r} does nothing; labels: {', '.join(self.keys)}, {SKIP} skip, {BACK} back"
        self.table = self.table.with_columns(
            pl.when(pl.int_range(pl.len()) == self.position).then(pl.lit(self.keys[key]))
            .otherwise(pl.col(self.column)).alias(self.column))
        self.save()
        self.position = self.next_unlabelled(self.position + 1)
        return f"{item['item_id']}: {self.keys[key]}"

    def progress(self) -> tuple[int, int]:
        """``(items labelled by this annotator, items)``."""
        labels = self.table[self.column]
        return int((labels.is_not_null() & (labels != "")).sum()), self.table.height

    def save(self) -> Path:
        """Write the sheet back (same columns; the label column added if it was not there), atomically."""
        path = Path(self.sheet)
        tmp = path.with_name(f".{path.name}.tmp")
        self.table.write_csv(tmp)
        os.replace(tmp, path)
        return path


def item_html(item: dict[str, Any] | None) -> str:
    """The item as HTML: the parent (greyed, for context) above the comment; text escaped.

    >>> item_html({"item_id": "item-1", "text": "<b>hi</b>", "parent_text": None, "label": None})
    '<div><b>item-1</b></div><div style="margin:0.5em 0;white-space:pre-wrap">&lt;b&gt;hi&lt;/b&gt;</div>'
    """
    if item is None:
        return "<div><b>All items are labelled.</b></div>"
    parent = item.get("parent_text")
    quoted = ("" if parent in (None, "") else '<div style="color:#666;border-left:3px solid #ccc;padding-left:'
              f'0.5em;white-space:pre-wrap">replying to: {html.escape(str(parent))}</div>')
    return (f"<div><b>{html.escape(str(item['item_id']))}</b></div>{quoted}"
            f'<div style="margin:0.5em 0;white-space:pre-wrap">{html.escape(str(item["text"] or ""))}</div>')


class LabellingWidget:
    """The ipywidgets view of a :class:`LabellingSession`: the item, a key box, one button per key, a status
    line. ``view`` is the widget to display (a notebook displays this object as it)."""

    def __init__(self, session: LabellingSession) -> None:
        import ipywidgets as w

        self.session = session
        self.item = w.HTML(item_html(session.current()))
        self.key_box = w.Text(value="", placeholder="type a key: " + ", ".join(
            [*(f"{k} = {v}" for k, v in session.keys.items()), f"{SKIP} = skip", f"{BACK} = back"]),
            continuous_update=True)
        self.buttons = [w.Button(description=f"{k}: {v}") for k, v in session.keys.items()]
        self.buttons += [w.Button(description=f"{SKIP}: skip"), w.Button(description=f"{BACK}: back")]
        for key, button in zip([*session.keys, SKIP, BACK], self.buttons, strict=True):
            button.on_click(lambda _, k=key: self.press(k))
        self.status = w.Label(self._progress(""))
        self.key_box.observe(self._typed, names="value")
        self.view = w.VBox([self.item, self.key_box, w.HBox(self.buttons), self.status])

    def _progress(self, said: str) -> str:
        done, total = self.session.progress()
        return f"{done} of {total} labelled by {self.session.annotator}" + (f" · {said}" if said else "")

    def press(self, key: str) -> str:
        """A key press (typed or clicked): the session acts, the view follows."""
        said = self.session.press(key)
        self.item.value = item_html(self.session.current())
        self.status.value = self._progress(said)
        return said

    def _typed(self, change: dict[str, Any]) -> None:
        text = change["new"]
        if text:
            self.press(text[-1])
            self.key_box.value = ""  # ready for the next key

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.view._repr_mimebundle_(**kwargs)


def labelling_widget(sheet: str | Path, annotator: str, keys: dict[str, str] | None = None) -> LabellingWidget:
    """A labelling widget over ``sheet`` for ``annotator`` (see the module); display it in a notebook cell."""
    return LabellingWidget(LabellingSession(sheet, annotator, dict(keys or DEFAULT_KEYS)))
