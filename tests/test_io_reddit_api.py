"""Reddit API JSON beyond one page: directories of pages, single objects, arrays, Listings, JSON lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.io import DETECTORS, detect_format, load_source
from toolkit.io.base import LoadError
from toolkit.io.reddit import REDDIT_SCHEMA, read_reddit_page
from toolkit.io.reddit_api import read_reddit_api
from toolkit.threads import build_tree

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "samples"
PAGES = [SAMPLES / "reddit_thread_1j7g9uj.json", SAMPLES / "reddit_thread_57dw9a.json"]
needs_samples = pytest.mark.skipif(not PAGES[0].exists(), reason="shared/data/samples not present")


def t1(cid: str, parent: str = "t3_p1", *replies: dict[str, Any], wrap: bool = True, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": cid, "name": f"t1_{cid}", "parent_id": parent, "link_id": "t3_p1", "author": f"u_{cid}",
        "body": f"text {cid}", "created_utc": 1_600_000_000 + len(cid), "score": 2, "subreddit": "test",
        "replies": {"kind": "Listing", "data": {"children": list(replies)}} if replies else "",
    }  # fmt: skip
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not ...}
    return {"kind": "t1", "data": data} if wrap else data


def t3(pid: str = "p1", wrap: bool = True, **fields: Any) -> dict[str, Any]:
    data = {"id": pid, "name": f"t3_{pid}", "title": f"Title {pid}", "selftext": "", "author": "op",
            "created_utc": 1_599_999_000, "score": 9, "subreddit": "test", **fields}  # fmt: skip
    return {"kind": "t3", "data": data} if wrap else data


def more(parent: str, children: list[str]) -> dict[str, Any]:
    return {"kind": "more", "data": {"id": children[0] if children else "_", "parent_id": parent, "children": children}}


def listing(*children: Any) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"children": list(children)}}


def write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def balance(result: Any) -> None:
    assert result.stats["records"] == result.frame.height + result.rejects.height
    assert result.stats["rows_kept"] == result.frame.height


def by_id(frame: pl.DataFrame, cid: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("comment_id") == cid).to_dicts()
    assert len(rows) == 1, cid
    return rows[0]


@needs_samples
def test_directory_of_pages_equals_the_pages_one_by_one(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for page in PAGES:
        shutil.copy(page, folder / page.name)
    assert detect_format(folder) == "reddit_api"
    assert detect_format(folder / PAGES[0].name) == "reddit_page"  # a lone page stays the page loader's
    result = load_source(folder)
    singles = [read_reddit_page(page) for page in PAGES]
    assert result.frame.height == 68 + 146 == sum(s.frame.height for s in singles)
    assert result.stats["pages"] == 2 and result.stats["continue_thread_stubs"] == 1
    columns = [c for c in REDDIT_SCHEMA if c != "source_position"]
    assert result.frame.select(columns).equals(pl.concat([s.frame for s in singles]).select(columns))
    assert result.frame["source_position"].to_list() == list(range(214))
    tree = build_tree(result.frame).frame
    assert set(tree["structure"].to_list()) == {"tree"}
    balance(result)


@needs_samples
def test_the_same_page_twice_keeps_one_copy(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    shutil.copy(PAGES[1], folder / "a.json")
    shutil.copy(PAGES[1], folder / "b.json")
    result = read_reddit_api(folder)
    assert result.frame.height == 146 and result.stats["duplicates"] == 146
    assert set(result.rejects["file"].to_list()) == {str(folder / "a.json")}
    assert "of b.json" in result.rejects["reason"][0]
    balance(result)


def test_single_objects_wrapped_and_bare_with_nested_replies(tmp_path: Path) -> None:
    folder = tmp_path / "objects"
    folder.mkdir()
    write(folder / "1_post.json", t3())
    write(folder / "2_comment.json", t1("a", "t3_p1", t1("b", "t1_a", t1("c", "t1_b")), more("t1_a", ["x", "y"])))
    write(folder / "3_bare.json", t1("d", "t1_c", wrap=False, link_id=...))  # no link_id: thread via c
    write(folder / "4_deep.json", t1("e", "t1_zz", depth=3))  # parent not here; Reddit says depth 3
    assert detect_format(folder) == "reddit_api"
    result = read_reddit_api(folder)
    frame = build_tree(result.frame).frame
    assert frame["comment_id"].to_list() == ["p1", "a", "b", "c", "d", "e"]
    assert by_id(frame, "d")["thread_id"] == "p1"
    assert {r["comment_id"]: r["reply_depth"] for r in frame.to_dicts()} == {
        "p1": 0, "a": 1, "b": 2, "c": 3, "d": 4, "e": 4,
    }  # fmt: skip
    assert by_id(frame, "e")["structure"] == "orphan" and by_id(frame, "e")["source_reply_depth"] == 4
    assert by_id(frame, "p1")["subtree_size"] == 5
    assert (result.stats["more_stubs"], result.stats["more_children_ids"]) == (1, 2)
    balance(result)


def test_arrays_listings_and_removal_signals(tmp_path: Path) -> None:
    value = [
        t3(selftext="[deleted]"),
        listing(
            t1("a", body="[removed]", author="[deleted]"),
            t1("b", body="kept &amp; shown", removed_by_category="moderator"),
            t1("c", body="x", banned_by="mod_x"),
            t1("d", body="y", removal_reason="legal"),
            t1("e", body="z", removed=True),
            t1("f", body="[deleted]", author="[deleted]"),
            t1("g", body="still here", author="[deleted]"),
        ),
        t1("h", "t1_g", wrap=False),
    ]
    path = write(tmp_path / "export.json", value)
    assert detect_format(path) == "reddit_api"
    frame = read_reddit_api(path).frame
    got = {r["comment_id"]: (r["removed"], r["deleted"], r["text"], r["author"], r["removal_source"])
           for r in frame.to_dicts()}  # fmt: skip
    assert got == {
        "p1": (False, True, "Title p1", "op", None),
        "a": (True, False, None, None, "body"),
        "b": (True, False, "kept & shown", "u_b", "removed_by_category"),
        "c": (True, False, "x", "u_c", "banned_by"),
        "d": (True, False, "y", "u_d", "removal_reason"),
        "e": (True, False, "z", "u_e", "removed_flag"),
        "f": (False, True, None, None, None),
        "g": (False, False, "still here", None, None),
        "h": (False, False, "text h", "u_h", None),
    }


def test_json_lines_of_wrapped_objects(tmp_path: Path) -> None:
    path = tmp_path / "comments.jsonl"
    lines = [json.dumps(t1("a")), "", json.dumps(t1("b", "t1_a")), "{broken", json.dumps({"kind": "t5", "data": {}}),
             json.dumps(t1("c", "t1_b", score="lots"))]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert detect_format(path) == "reddit_api"
    result = read_reddit_api(path)
    assert result.frame["comment_id"].to_list() == ["a", "b"]
    got = {r["line"]: r["field"] for r in result.rejects.to_dicts()}
    assert got == {4: None, 5: "kind", 6: "score"}
    balance(result)
    with pytest.raises(LoadError, match=r"comments.jsonl, line 4: malformed JSON"):
        read_reddit_api(path, strict=True)


def test_bad_documents_are_load_errors_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"kind": "t1", "data": {"id": "a"}}', encoding="utf-8")
    with pytest.raises(LoadError, match=r"broken.json, line 1: malformed JSON"):
        read_reddit_api(broken)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"id": "caf\xe9", "body": "x", "parent_id": "t3_p"}')
    with pytest.raises(LoadError, match="latin.json: not valid UTF-8 at byte 11"):
        read_reddit_api(latin)
    with pytest.raises(LoadError, match="no such file"):
        read_reddit_api(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LoadError, match="no .json"):
        read_reddit_api(empty)


def test_unknown_records_are_rejected_with_their_number(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.json", [t1("a"), {"hello": "world"}, 42, t1("b", "t1_a", created_utc="soon")])
    result = read_reddit_api(path)
    assert result.frame["comment_id"].to_list() == ["a"]
    assert [(r["line"], r["field"]) for r in result.rejects.to_dicts()] == [(2, "kind"), (3, "kind"), (4, "created_utc")]
    balance(result)


def test_detection_is_unambiguous(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "one.json", t1("a"))) == "reddit_api"
    assert detect_format(write(tmp_path / "bare.json", t1("a", wrap=False))) == "reddit_api"
    assert detect_format(write(tmp_path / "listing.json", listing(t1("a")))) == "reddit_api"
    lines = tmp_path / "dump.json"
    lines.write_text(json.dumps(t1("a", wrap=False)) + "\n" + json.dumps(t1("b", wrap=False)) + "\n")
    assert detect_format(lines) == "reddit_dump"  # JSON lines of bare records are a dump
    api = DETECTORS["reddit_api"]
    assert not api(write(tmp_path / "other.json", {"comments": [{"comment": {"id": 1}}]}))
    assert not api(write(tmp_path / "list.json", [{"id": "u1", "text": "hi", "reply-to": None}]))


OBJECT = st.deferred(
    lambda: st.one_of(
        st.builds(lambda c, p: t1(c, p), st.sampled_from("abcde"), st.sampled_from(["t3_p1", "t1_a", "t1_b", 7])),
        st.builds(lambda c: t1(c, wrap=False, score="x"), st.sampled_from("fg")),
        st.builds(lambda: t3()),
        st.builds(lambda kids: listing(*kids), st.lists(OBJECT, max_size=3)),
        st.builds(lambda kids: more("t1_a", kids), st.lists(st.sampled_from("xyz"), max_size=2)),
        st.none() | st.integers() | st.text(max_size=5),
        st.dictionaries(st.sampled_from(["kind", "data", "id"]), st.none() | st.text(max_size=3), max_size=3),
    )
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(OBJECT, max_size=6), as_lines=st.booleans())
def test_any_api_json_balances(tmp_path: Path, values: list[Any], as_lines: bool) -> None:
    path = tmp_path / ("x.jsonl" if as_lines else "x.json")
    if as_lines:
        path.write_text("".join(json.dumps(v) + "\n" for v in values), encoding="utf-8")
    else:
        write(path, values)
    result = read_reddit_api(path)
    balance(result)
    build_tree(result.frame)
    if result.rejects.height:
        assert result.rejects["line"].min() >= 1
        with pytest.raises(LoadError):
            read_reddit_api(path, strict=True)


def test_dataset_configs_name_real_loader_options(repo_root: Path) -> None:
    import inspect

    from omegaconf import OmegaConf

    from toolkit.io.reddit_dump import read_reddit_dump
    from toolkit.pipeline import resolve_data_path

    dump = OmegaConf.to_container(OmegaConf.load(repo_root / "conf/dataset/reddit_dump.yaml"))
    assert dump["format"] == "reddit_dump"
    inspect.signature(read_reddit_dump).bind("path", strict=dump["strict"], **dump["options"])
    api = OmegaConf.to_container(OmegaConf.load(repo_root / "conf/dataset/reddit_api.yaml"))
    result = load_source(resolve_data_path(api["path"]), api["format"], strict=api["strict"], **api["options"])
    assert result.frame.height == 214 and result.rejects.height == 0  # the two bundled pages: 146 + 68 rows


def test_absurdly_nested_arrays_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000 + json.dumps(t1("a")) + "]" * 5000, encoding="utf-8")
    with pytest.raises(LoadError, match="deep.json: arrays or Listings nested too deeply"):
        read_reddit_api(path)
