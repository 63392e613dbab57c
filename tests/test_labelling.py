"""The labelling widget's logic, headless: key presses label, skip and go back; the sheet is written after every
label in the format annotation_sample wrote (and read_annotations reads); the ipywidgets view follows."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from toolkit import notebook as nb
from toolkit.analysis.annotation import read_annotations
from toolkit.errors import ConfigError
from toolkit.labelling import LabellingSession, item_html


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    d = tmp_path / "annotation"
    d.mkdir()
    pl.DataFrame({"item_id": ["item-1", "item-2", "item-3"], "comment_id": ["a", "b", "c"],
                  "weight": [1.0, 2.0, 3.0]}).write_csv(d / "key.csv")
    path = d / "sample.csv"
    pl.DataFrame({"item_id": ["item-1", "item-2", "item-3"], "text": ["you <idiot>", "thanks,\nreally", "ok"],
                  "parent_text": ["what?", None, "fine"], "label_ann": [None, None, None],
                  "label_bo": [None, None, None]}, schema_overrides={"label_ann": pl.String, "label_bo": pl.String},
                 ).write_csv(path)
    return path


def test_keys_label_skip_and_go_back(sheet: Path) -> None:
    session = LabellingSession(sheet, "ann")
    assert session.current()["item_id"] == "item-1" and session.current()["parent_text"] == "what?"
    assert session.press("x").startswith("key 'x' does nothing")
    assert session.press("1") == "item-1: 1"
    assert session.press("s") == "item-2: skipped"
    assert session.press("0") == "item-3: 0"
    assert session.current() is None and session.press("1") == "all items done"
    assert session.press("b") == "back to item-3" and session.press("b") == "back to item-2"
    assert session.press("1") == "item-2: 1"
    written = pl.read_csv(sheet, infer_schema_length=0)
    assert written.columns == ["item_id", "text", "parent_text", "label_ann", "label_bo"]  # same sheet
    assert written["label_ann"].to_list() == ["1", "1", "0"] and written["label_bo"].null_count() == 3
    assert written["text"][1] == "thanks,\nreally"  # multi-line text survives


def test_reopening_starts_at_the_first_unlabelled_item(sheet: Path) -> None:
    first = LabellingSession(sheet, "ann")
    first.press("1")
    again = LabellingSession(sheet, "ann")
    assert again.current()["item_id"] == "item-2" and again.progress() == (1, 3)
    new = LabellingSession(sheet, "cy")  # a new annotator gets a column of their own
    assert new.column in new.table.columns and new.progress() == (0, 3)


def test_written_labels_read_back_for_validation(sheet: Path) -> None:
    for annotator, keys in (("ann", "101"), ("bo", "100")):
        session = LabellingSession(sheet, annotator)
        for key in keys:
            session.press(key)
    labels, annotators = read_annotations(sheet.parent)
    assert annotators == ["label_ann", "label_bo"]
    assert labels.select("comment_id", "label_ann", "label_bo").rows() == [
        ("a", 1.0, 1.0), ("b", 0.0, 0.0), ("c", 1.0, 0.0)]


def test_custom_keys_and_bad_sheets(sheet: Path, tmp_path: Path) -> None:
    session = LabellingSession(sheet, "ann", keys={"t": "1", "n": "0"})
    assert session.press("t") == "item-1: 1"
    with pytest.raises(ConfigError, match="must not be 's'"):
        LabellingSession(sheet, "ann", keys={"s": "1"})
    with pytest.raises(ConfigError, match="no annotation sheet"):
        LabellingSession(tmp_path / "none.csv", "ann")


def test_widget_follows_typed_keys_and_clicks(sheet: Path) -> None:
    pytest.importorskip("ipywidgets")
    widget = nb.labelling_widget(sheet, "ann")
    assert "you &lt;idiot&gt;" in widget.item.value and "replying to: what?" in widget.item.value
    widget.key_box.value = "1"  # typed: labels item-1 and clears the box
    assert widget.key_box.value == "" and "item-2" in widget.item.value
    assert widget.status.value.startswith("1 of 3 labelled by ann")
    widget.buttons[1].click()  # "0: 0"
    assert "item-3" in widget.item.value
    assert pl.read_csv(sheet, infer_schema_length=0)["label_ann"].to_list() == ["1", "0", None]
    assert item_html(None) == "<div><b>All items are labelled.</b></div>"
