"""toolkit.explore without a browser: the explorer's pure functions and state on a hand-made thread (golden values
worked out by hand below), and the widget driven through its methods and event handlers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from toolkit.errors import ConfigError, LoadError
from toolkit.explore import (
    ExploreState,
    candidate_labels,
    colour_scale,
    filter_threads,
    format_counts,
    hover_texts,
    node_opacity,
    search_matches,
    sort_threads,
    subthread,
    thread_list,
    tree_edges,
    tree_nodes,
    view_counts,
)

# Thread t:  p ─┬─ a ─┬─ a1 ── a11 (deleted)       Thread u:  q ── c1
#               │     └─ a2
#               └─ b (removed) ── b1
ROWS = [  # thread, comment_id, parent_id, author, text, removed, deleted, toxicity, judge
    ("t", "p", None, "op", "The post\nsecond line", False, False, 0.1, 0.0),
    ("t", "a", "p", "ann", "first reply", False, False, 0.2, 0.5),
    ("t", "b", "p", "bob", None, True, False, None, None),
    ("t", "a1", "a", "cat", "you idiot", False, False, 0.9, 1.0),
    ("t", "a2", "a", "Bob", "calm reply to ann", False, False, 0.05, 0.0),
    ("t", "a11", "a1", "dan", None, False, True, None, None),
    ("t", "b1", "b", "eve", "reply to removed", False, False, 0.4, 0.5),
    ("u", "q", None, "op2", "Other thread", False, False, 0.0, 0.0),
    ("u", "c1", "q", "fay", "idiot idea", False, False, 0.7, 1.0),
]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    from toolkit.schema import conform
    from toolkit.threads import build_tree

    raw = pl.DataFrame({
        "thread_id": [r[0] for r in ROWS], "comment_id": [r[1] for r in ROWS], "parent_id": [r[2] for r in ROWS],
        "is_post": [r[2] is None for r in ROWS], "author": [r[3] for r in ROWS], "text": [r[4] for r in ROWS],
        "removed": [r[5] for r in ROWS], "deleted": [r[6] for r in ROWS], "platform": ["test"] * len(ROWS),
        "source_position": list(range(len(ROWS))),
    })
    tree = build_tree(conform(raw)).frame
    return tree.with_columns(toxicity=pl.Series([r[7] for r in ROWS], dtype=pl.Float64),
                             judge=pl.Series([r[8] for r in ROWS], dtype=pl.Float64))


def test_candidate_labels(frame: pl.DataFrame) -> None:
    assert candidate_labels(frame) == ["toxicity", "judge"]  # known label first, then floats in [0, 1]
    wider = frame.with_columns(votes=pl.lit(12.0), n=pl.lit(1), gratitude=pl.lit(0.0))
    assert candidate_labels(wider) == ["toxicity", "judge"]  # out of [0, 1], integer, politeness strategy
    assert candidate_labels(frame, ["judge"]) == ["judge"]
    with pytest.raises(ConfigError, match=r"no column\(s\) \['llm'\]"):
        candidate_labels(frame, ["llm"])
    with pytest.raises(ConfigError, match="no score column to colour by"):
        candidate_labels(frame.drop("toxicity", "judge"))


def test_thread_list_sort_and_filter(frame: pl.DataFrame) -> None:
    table = thread_list(frame, "toxicity", 0.5)
    # t: 6 comments, deepest reply 3 (a11), scored a, a1, a2, b1 -> 1 of 4 at >= 0.5; u: 1 comment, 1 of 1
    assert table.rows() == [("t", "The post second line", 6, 3, 0.25, 1, 1), ("u", "Other thread", 1, 1, 1.0, 0, 0)]
    assert thread_list(frame, "toxicity", 0.3)["toxic_share"].to_list() == [0.5, 1.0]
    assert sort_threads(table, "size")["thread_id"].to_list() == ["t", "u"]
    assert sort_threads(table, "toxic share")["thread_id"].to_list() == ["u", "t"]
    assert sort_threads(table, "depth", descending=False)["thread_id"].to_list() == ["u", "t"]
    assert sort_threads(table, "removals")["thread_id"].to_list() == ["t", "u"]
    assert sort_threads(table, "deletions", descending=False)["thread_id"].to_list() == ["u", "t"]
    with pytest.raises(ConfigError, match="'length': choose one of"):
        sort_threads(table, "length")
    assert filter_threads(table, "OTHER")["thread_id"].to_list() == ["u"]
    assert filter_threads(table, min_comments=2)["thread_id"].to_list() == ["t"]
    assert filter_threads(table, "")["thread_id"].to_list() == ["t", "u"]


def test_tree_nodes_use_the_static_layout(frame: pl.DataFrame) -> None:
    from toolkit.analysis.thread_tables import thread_tree_table
    from toolkit.threads.layout import tree_layout

    nodes = tree_nodes(frame, "t", ["toxicity", "judge"])
    assert nodes["comment_id"].to_list() == ["p", "a", "b", "a1", "a2", "a11", "b1"]
    # leaves left to right in depth-first order: a11 (0), a2 (1), b1 (2); parents over their children's middle
    assert nodes["x"].to_list() == [1.25, 0.5, 2.0, 0.0, 1.0, 0.0, 2.0]
    assert nodes["depth"].to_list() == [0, 1, 1, 2, 2, 3, 2]
    assert nodes["parent_index"].to_list() == [-1, 0, 0, 1, 1, 3, 2]
    assert nodes["author"].to_list() == ["op", "ann", "bob", "cat", "Bob", "dan", "eve"]
    table, _ = thread_tree_table(frame, thread_id="t")
    x, depth, _, _ = tree_layout(table["comment_id"].to_list(), table["parent_id"].to_list(), table["position"])
    assert nodes["x"].to_list() == x.tolist() and nodes["depth"].to_list() == depth.tolist()
    xs, ys = tree_edges(nodes)
    assert len(xs) == len(ys) == 6 * 5  # six edges, four points and a break each
    assert (xs[:5], ys[:5]) == ([1.25, 1.25, 0.5, 0.5, None], [0, 0.5, 0.5, 1, None])  # p -> a
    assert nodes.height == tree_nodes(frame, "t", ["toxicity"], max_nodes=3).height + 4


def test_colours_counts_search_subthread(frame: pl.DataFrame) -> None:
    nodes = tree_nodes(frame, "t", ["toxicity"])
    # scores p .1, a .2, b -, a1 .9, a2 .05, a11 -, b1 .4: below the threshold faded, no score opaque (white mark)
    assert node_opacity(nodes["toxicity"].to_numpy(), 0.5).tolist() == [0.25, 0.25, 1, 1, 0.25, 1, 0.25]
    assert node_opacity(nodes["toxicity"].to_numpy(), 0.3).tolist() == [0.25, 0.25, 1, 1, 0.25, 1, 1]  # b1 .4
    scale = colour_scale()
    assert (scale[0], scale[5], scale[-1]) == ([0.0, "#440154"], [0.5, "#21918c"], [1.0, "#fde725"])  # viridis

    assert view_counts(nodes, "toxicity", 0.5) == {"comments": 6, "scored": 4, "above": 1, "share": 0.25,
                                                    "removed": 1, "deleted": 1, "matches": 0, "selected": 0}
    assert view_counts(nodes, "toxicity", 0.3, np.array([True, False] * 3 + [False]), [1, 3])["above"] == 2
    assert format_counts(view_counts(nodes, "toxicity", 0.3), "toxicity", 0.3).startswith(
        "6 comments · 2 with toxicity ≥ 0.30 (50.0% of 4 scored)")

    assert nodes["comment_id"].filter(pl.Series(search_matches(nodes, "IDIOT"))).to_list() == ["a1"]
    assert nodes["comment_id"].filter(pl.Series(search_matches(nodes, "bob"))).to_list() == ["b", "a2"]
    assert nodes["comment_id"].filter(pl.Series(search_matches(nodes, "ann"))).to_list() == ["a", "a2"]
    assert nodes["comment_id"].filter(pl.Series(search_matches(nodes, "author:ann"))).to_list() == ["a"]
    assert not search_matches(nodes, "  ").any()

    assert subthread(nodes, 1) == [1, 3, 5, 4]  # a, a1, a11, a2
    assert subthread(nodes, 0) == [0, 1, 3, 5, 4, 2, 6]
    assert hover_texts(nodes, ["toxicity"])[2] == "<b>bob</b> · depth 1 · removed<br>toxicity -<br>(no text)"
    assert hover_texts(nodes, ["toxicity"])[0] == "<b>op</b> · depth 0 · post<br>toxicity 0.100<br>The post"


def test_state_click_select_table_detail(frame: pl.DataFrame) -> None:
    state = ExploreState.create(frame)
    assert (state.thread_id, state.label, state.threshold) == ("t", "toxicity", 0.5)  # the largest thread
    state.click(state.index_of("a1"))
    assert [state.nodes["comment_id"][i] for i in state.selected] == ["a1", "a11"]
    assert state.table().select("comment_id", "text").rows() == [("a1", "you idiot"), ("a11", "(no text)")]
    assert state.detail().select("role", "comment_id").rows() == [("parent", "a"), ("comment", "a1"),
                                                                  ("reply", "a11")]
    state.focus_row(5)  # a table row: read it, the table stays
    assert state.focus == 5 and state.selected == [3, 5]
    assert state.detail().select("role", "comment_id").rows() == [("parent", "a1"), ("comment", "a11")]
    state.select([6, 2, 6])  # a lasso, in the order Plotly lists the points
    assert state.selected == [6, 2] and state.focus == 6
    chosen = state.selection_frame()
    assert chosen["comment_id"].to_list() == ["b1", "b"] and chosen.columns == frame.columns
    state.search("reply")
    assert state.counts()["matches"] == 3 and state.counts()["selected"] == 2
    state.set_threshold(0.3)
    assert state.counts()["above"] == 2 and state.threads["toxic_share"].to_list() == [0.5, 1.0]
    state.set_label("judge")
    assert state.counts()["above"] == 3  # judge >= 0.3: a, a1, b1
    state.set_thread("u")
    assert state.nodes["comment_id"].to_list() == ["q", "c1"] and state.selected == [] and state.focus is None
    assert state.matches.tolist() == [False, False]
    with pytest.raises(ConfigError, match="no thread 'v'"):
        state.set_thread("v")
    with pytest.raises(IndexError):
        state.click(2)
    with pytest.raises(KeyError):
        state.index_of("a1")
    with pytest.raises(ConfigError, match="'insult': not among the score columns"):
        ExploreState.create(frame, label="insult")
    state.thread_filter, state.sort = "thread", "toxic share"
    assert state.visible_threads()["thread_id"].to_list() == ["u"]


def test_export_figure_and_selection_table(frame: pl.DataFrame, tmp_path: Path) -> None:
    from toolkit.plots.figures import load_figure

    state = ExploreState.create(frame)
    state.click(state.index_of("a"))
    table, note = state.figure_table(selection_only=True)
    assert table["comment_id"].to_list() == ["a", "a1", "a2", "a11"] and note.startswith("sub-thread of a: 4 rows")
    paths = state.export_figure(tmp_path, formats=("png", "pdf"), dpi=60)
    assert sorted(p.suffix for p in paths) == [".csv", ".json", ".pdf", ".png"]
    spec, saved = load_figure(tmp_path, "thread_tree_t_toxicity")
    assert spec.kind == "thread_tree" and saved.height == 7 and spec.options["threshold"] == 0.5
    assert state.static_png(dpi=40).startswith(b"\x89PNG")


def test_widget_through_its_controls(frame: pl.DataFrame, tmp_path: Path) -> None:
    from plotly.callbacks import Points

    from toolkit import notebook as nb

    explorer = nb.explore(frame, export_dir=tmp_path)
    assert repr(explorer) == "Explorer(thread 't', 7 nodes, 2 threads, colour by 'toxicity' at 0.50)"
    nodes = explorer.figure.data[1]
    assert list(nodes.x) == [1.25, 0.5, 2.0, 0.0, 1.0, 0.0, 2.0] and list(nodes.marker.symbol)[:2] == ["square",
                                                                                                        "circle"]
    assert np.allclose(nodes.marker.color[:2], [0.1, 0.2]) and np.isnan(nodes.marker.color[2])  # the scores
    assert explorer.figure.layout.title.text.startswith("Thread t: 6 comments · colour: toxicity")
    assert len(explorer.figure.data[4].x) == 1 and len(explorer.figure.data[3].x) == 1  # removed b, deleted a11
    assert list(explorer.figure.data[2].x) == [2.0, 0.0]  # no text: b, a11
    assert explorer._recolour.scores == [0.1, 0.2, None, 0.9, 0.05, None, 0.4]  # for the browser-side fading
    assert "1 with toxicity ≥ 0.50" in explorer.counts.value
    assert [o[1] for o in explorer.threads.options] == ["t", "u"] and explorer.threads.value == "t"

    before = list(nodes.marker.opacity)
    explorer.threshold.value = 0.3  # what the slider does
    assert "2 with toxicity ≥ 0.30" in explorer.counts.value
    assert [i for i, (a, b) in enumerate(zip(before, nodes.marker.opacity, strict=True)) if a != b] == [6]

    explorer._on_click(nodes, Points(point_inds=[3], xs=[0.0], ys=[2], trace_name="comments", trace_index=1), None)
    assert "you idiot" in explorer.detail.value and "first reply" in explorer.detail.value  # comment and parent
    assert [o[1] for o in explorer.table.options] == [3, 5] and explorer.table.value == 3
    assert list(explorer.figure.data[7].x) == [0.0] and len(explorer.figure.data[6].x) == 2

    explorer.table.value = 5  # a table row: the tree's focus ring moves, the table stays
    assert list(explorer.figure.data[7].y) == [3] and [o[1] for o in explorer.table.options] == [3, 5]
    assert "<i>(no text)</i>" in explorer.detail.value

    explorer.search.value = "reply"
    assert len(explorer.figure.data[5].x) == 3 and "3 search matches" in explorer.counts.value
    explorer._on_selection(nodes, Points(point_inds=[1, 4], xs=[], ys=[], trace_name="comments", trace_index=1),
                           None)
    assert [o[1] for o in explorer.table.options] == [1, 4]
    csv = explorer.export_selection()
    assert pl.read_csv(csv)["comment_id"].to_list() == ["a", "a2"]
    assert any(p.suffix == ".pdf" for p in explorer.export_figure(formats=("pdf",), dpi=50))
    assert "wrote" in explorer.message.value

    explorer.label.value = "judge"
    assert "with judge ≥ 0.30" in explorer.counts.value
    assert list(nodes.marker.color)[:2] == [0.0, 0.5] and "colour: judge" in explorer.figure.layout.title.text
    explorer.sort.value = "toxic share"
    assert [o[1] for o in explorer.threads.options] == ["u", "t"]
    explorer.threads.value = "u"
    assert list(explorer.figure.data[1].x) == [0.0, 0.0] and explorer.table.options == ()
    explorer.thread_filter.value = "nothing like it"
    assert explorer.threads.options == () and explorer.state.thread_id == "u"

    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # base64 of a PNG header: nbconvert's fallback


def test_figures_share_one_plotly_bundle(frame: pl.DataFrame) -> None:
    """Each tree figure carries a small module naming one hidden widget that holds plotly's 5 MB bundle, sent once
    per kernel (the browser evaluates it once per page), instead of the bundle itself."""
    import plotly.graph_objects as go
    from ipywidgets import widget_serialization

    from toolkit import notebook as nb

    first, second = nb.explore(frame).figure, nb.explore(frame).figure
    state = first.get_state()
    assert len(state["_esm"]) < 5_000 and "widget_manager.get_model" in state["_esm"]
    assert state["bundle_model"] == second.get_state()["bundle_model"]
    holder = widget_serialization["from_json"](f"IPY_MODEL_{state['bundle_model']}", None)
    assert holder.source == str(go.FigureWidget._esm) and len(holder.source) > 1_000_000
    holder.close()  # closed (a cleared kernel state): the next figure gets a new holder
    third = nb.explore(frame).figure.get_state()
    assert third["bundle_model"] != state["bundle_model"] and third["bundle_key"] == state["bundle_key"]


def test_explore_a_run_directory(frame: pl.DataFrame, tmp_path: Path) -> None:
    from toolkit import notebook as nb

    frame.write_parquet(tmp_path / "comments.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"analysis": {"threshold": 0.3}}}))
    explorer = nb.explore(tmp_path)
    assert explorer.state.threshold == 0.3 and explorer.threshold.value == 0.3
    assert nb.explore(tmp_path, threshold=0.7, label="judge").state.label == "judge"
    with pytest.raises(LoadError, match="is .* a toolkit run directory"):
        nb.explore(tmp_path / "nope")
