"""Build ``data/toxichat.parquet``: every Reddit turn of ToxiChat in the canonical frame, with its human labels.

Source: ``shared/data/labelled/toxichat/`` (abaheti95/ToxiChat, ``data/ToxiChat``; Baheti et al., "Just Say
No: Analyzing the Stance of Neural Dialogue Generation in Offensive Contexts", EMNLP 2021; CC BY-SA 4.0):
``train.jsonl`` (1,400 threads) and ``dev.jsonl`` (300), one JSON object a line. ``reddit_thread`` lists the
turns: turn 1 is the post ("Title: ..."), each later turn replies to the one before. Every turn carries a
human ``offense_label`` (``Offensive``/``Safe``), ``offense_targets`` and ``stance_label_towards_turn_K``
(``Agree``/``Disagree``/``Neutral``) towards every earlier turn.

``final_dgpt_response`` and ``final_gpt3_response`` are chatbot replies (DialoGPT, GPT-3) written for the
study, not Reddit comments: they are LEFT OUT (counted in the printout).

Columns written (one row per Reddit turn, in thread then turn order):
- ``thread_id``: ``toxichat-<split>-<n>`` (``n`` the 1-based line of the thread in its file, 4 digits);
- ``comment_id``: the thread id for the post, ``<thread_id>-<turn>`` for the replies;
- ``parent_id``: empty for the post, else the previous turn's ``comment_id``;
- ``is_post`` (turn 1), ``turn`` (1-based), ``text`` (trimmed);
- ``offensive``: the human label (``offense_label == "Offensive"``);
- ``stance_to_parent``: the turn's stance towards the turn it replies to (``agree``/``disagree``/``neutral``;
  empty for the post);
- ``offense_targets``: the targets the annotators named, joined with ``;`` (empty when none);
- ``split``: ``train`` or ``dev`` (ToxiChat's split: benchmarks report the dev split).

ToxiChat has no timestamps, authors or scores. A turn without a known label or a thread whose turn ids are
not 1, 2, ... is an error naming the file and line. Run from the repository root::

    .venv/bin/python data/build_toxichat.py [SOURCE_DIR] [OUT_PARQUET]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "labelled" / "toxichat"
DEFAULT_OUT = ROOT / "data" / "toxichat.parquet"
SPLITS = ("train", "dev")
OFFENSE = {"Offensive": True, "Safe": False}
STANCES = {"Agree": "agree", "Disagree": "disagree", "Neutral": "neutral"}
SCHEMA: dict[str, pl.DataType] = {
    "thread_id": pl.String(),
    "comment_id": pl.String(),
    "parent_id": pl.String(),
    "is_post": pl.Boolean(),
    "turn": pl.Int64(),
    "text": pl.String(),
    "offensive": pl.Boolean(),
    "stance_to_parent": pl.String(),
    "offense_targets": pl.String(),
    "split": pl.String(),
}


def turn_rows(thread: dict, thread_id: str, split: str, where: str) -> list[dict]:
    """The canonical rows of one thread's Reddit turns (the chatbot replies are not among them)."""
    rows: list[dict] = []
    for position, turn in enumerate(thread["reddit_thread"], start=1):
        if turn.get("turn_id") != position:
            raise ValueError(f"{where}: turn {position} has turn_id {turn.get('turn_id')!r}")
        label = turn.get("offense_label")
        if label not in OFFENSE:
            raise ValueError(f"{where}: turn {position} field offense_label: {label!r}")
        stance = None
        if position > 1:
            raw = turn.get(f"stance_label_towards_turn_{position - 1}")
            if raw not in STANCES:
                raise ValueError(f"{where}: turn {position} field stance_label_towards_turn_{position - 1}: {raw!r}")
            stance = STANCES[raw]
        rows.append(
            {
                "thread_id": thread_id,
                "comment_id": thread_id if position == 1 else f"{thread_id}-{position}",
                "parent_id": None if position == 1 else rows[-1]["comment_id"],
                "is_post": position == 1,
                "turn": position,
                "text": turn["text"].strip(),
                "offensive": OFFENSE[label],
                "stance_to_parent": stance,
                "offense_targets": ";".join(turn.get("offense_targets") or []) or None,
                "split": split,
            }
        )
    return rows


def build(source: Path = DEFAULT_SOURCE) -> tuple[pl.DataFrame, int]:
    """The turn table (see the module docstring) and the number of chatbot replies left out."""
    rows: list[dict] = []
    chatbot = 0
    for split in SPLITS:
        path = source / f"{split}.jsonl"
        with path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                thread = json.loads(line)
                thread_id = f"toxichat-{split}-{line_number:04d}"
                rows.extend(turn_rows(thread, thread_id, split, f"{path}:{line_number}"))
                chatbot += sum(key in thread for key in ("final_dgpt_response", "final_gpt3_response"))
    return pl.DataFrame(rows, schema=SCHEMA), chatbot


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    table, chatbot = build(source)
    table.write_parquet(out, compression="zstd", statistics=False)
    print(
        f"{out}: {table['thread_id'].n_unique()} threads, {table.height} Reddit turns "
        f"({int(table['offensive'].sum())} offensive); {chatbot} chatbot replies left out"
    )


if __name__ == "__main__":
    main(sys.argv)
