"""Global state is changed only inside a block and restored after it: environment, module flags, csv's field
limit, the recursion limit and the thread stack size (toolkit.scoped and its users)."""

from __future__ import annotations

import csv
import json
import os
import sys
import threading
import types
from pathlib import Path

import pytest

from toolkit import scoped
from toolkit.io.stream import loads_deep
from toolkit.io.table import read_table


def test_environ_sets_removes_and_restores_even_on_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_T_KEEP", "mine")
    monkeypatch.delenv("TOOLKIT_T_NEW", raising=False)
    before = dict(os.environ)
    with pytest.raises(KeyError), scoped.environ(TOOLKIT_T_KEEP=None, TOOLKIT_T_NEW="1"):
        assert "TOOLKIT_T_KEEP" not in os.environ and os.environ["TOOLKIT_T_NEW"] == "1"
        raise KeyError("inside")
    assert dict(os.environ) == before


def test_attributes_restored_even_on_error() -> None:
    flags = types.SimpleNamespace(offline=False, quiet=1)
    with pytest.raises(ValueError), scoped.attributes(flags, offline=True, quiet=0):
        assert (flags.offline, flags.quiet) == (True, 0)
        raise ValueError
    assert (flags.offline, flags.quiet) == (False, 1)


def test_raised_limit_counts_overlapping_holders() -> None:
    """A enters (1500), B enters (3000), A leaves: still 3000 (B needs it); B leaves: the caller's 1000.
    A request below the caller's own value never lowers it."""
    value = [1000]
    limit = scoped.RaisedLimit(lambda: value[0], lambda v: value.__setitem__(0, v))
    a, b = limit.at_least(1500), limit.at_least(3000)
    a.__enter__()
    assert value[0] == 1500
    b.__enter__()
    assert value[0] == 3000
    a.__exit__(None, None, None)
    assert value[0] == 3000
    b.__exit__(None, None, None)
    assert value[0] == 1000
    with limit.at_least(10):
        assert value[0] == 1000


def test_start_thread_restores_the_stack_size() -> None:
    before = threading.stack_size()
    seen = []
    scoped.start_thread(lambda: seen.append(1), stack_size=2**24, name="t").join()
    assert seen == [1] and threading.stack_size() == before


def _deep(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels  # built as text: json.dumps would itself hit the limit


def test_loads_deep_restores_recursion_limit_and_stack_size() -> None:
    limit, stack = sys.getrecursionlimit(), threading.stack_size()
    with pytest.raises(RecursionError):
        json.loads(_deep(5_000))
    value = loads_deep(_deep(5_000))
    for _ in range(5_000):
        value = value[0]
    assert value == 1
    assert (sys.getrecursionlimit(), threading.stack_size()) == (limit, stack)


def test_concurrent_loads_deep_all_parse_and_restore() -> None:
    """Three threads parsing at once (overlapping raises of the process-wide limit) all succeed; afterwards
    the limit is the caller's own again."""
    limit = sys.getrecursionlimit()
    results: list[object] = []
    workers = [threading.Thread(target=lambda n=n: results.append(loads_deep(_deep(5_000 + n)))) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == 3 and sys.getrecursionlimit() == limit


def test_csv_field_limit_lifted_only_while_reading(tmp_path: Path) -> None:
    """A malformed record sends the CSV through the csv module: a 300 KB field (beyond csv's 128 KiB default)
    is kept and csv's limit is the caller's own afterwards."""
    before = csv.field_size_limit()
    big = "x" * 300_000
    path = tmp_path / "t.csv"
    path.write_text(f'id,body\n1,"{big}"\n2,"unterminated\n', encoding="utf-8")
    result = read_table(path, columns={"comment_id": "id", "text": "body"})
    assert result.frame["text"].to_list() == [big]
    assert result.rejects.height == 1
    assert csv.field_size_limit() == before
