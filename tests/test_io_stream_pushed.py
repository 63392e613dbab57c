"""pushed_chunks: a push-style loader as an iterator; stopping early leaves no thread or open file behind."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.io.stream import StreamClosed, pushed_chunks


def _file_loader(path: Path, opened: list) -> Callable[[Callable[[str], None]], None]:
    """A loader pushing the file's lines one by one to its sink (many more than fit in flight)."""

    def load(sink: Callable[[str], None]) -> None:
        with path.open() as handle:
            opened.append(handle)
            for line in handle:
                sink(line.strip())

    return load


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pushed-chunks"]


def test_all_chunks_in_order_then_the_thread_ends(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"{i}\n" for i in range(100)))
    opened: list = []
    assert list(pushed_chunks(_file_loader(path, opened))) == [str(i) for i in range(100)]
    assert opened[0].closed and _loader_threads() == []


def test_early_stop_leaves_no_thread_and_closes_the_file(tmp_path: Path) -> None:
    """The consumer takes 3 of 10,000 chunks and stops: the loader's next sink() raises StreamClosed, so its
    ``with`` closes the file and its thread is gone once close() returns (before: blocked in put forever)."""
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"{i}\n" for i in range(10_000)))
    opened: list = []
    before = set(threading.enumerate())
    chunks = pushed_chunks(_file_loader(path, opened))
    assert [next(chunks) for _ in range(3)] == ["0", "1", "2"]
    assert len(_loader_threads()) == 1
    chunks.close()
    assert set(threading.enumerate()) == before and opened[0].closed


def test_break_out_of_a_for_loop_stops_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"{i}\n" for i in range(10_000)))
    opened: list = []
    stopped: list[BaseException] = []

    def load(sink: Callable[[str], None]) -> None:
        try:
            _file_loader(path, opened)(sink)
        except StreamClosed as exc:
            stopped.append(exc)
            raise

    def first_two() -> list[str]:
        taken = []
        for chunk in pushed_chunks(load):
            taken.append(chunk)
            if len(taken) == 2:
                break
        return taken

    assert first_two() == ["0", "1"]  # the generator is closed when the loop's frame drops it
    assert len(stopped) == 1 and opened[0].closed and _loader_threads() == []


def test_loader_error_reaches_the_consumer_after_its_chunks() -> None:
    def load(sink: Callable[[int], None]) -> None:
        sink(1)
        sink(2)
        raise ValueError("bad.jsonl line 3: not JSON")

    got = []
    with pytest.raises(ValueError, match="line 3"):
        for chunk in pushed_chunks(load):
            got.append(chunk)
    assert got == [1, 2] and _loader_threads() == []


def test_consumer_error_stops_the_loader() -> None:
    pushed: list[int] = []

    def load(sink: Callable[[int], None]) -> None:
        for i in range(10_000):
            sink(i)
            pushed.append(i)

    with pytest.raises(RuntimeError, match="consumer"):
        for chunk in pushed_chunks(load, in_flight=1):
            if chunk == 5:
                raise RuntimeError("consumer failed")
    assert _loader_threads() == [] and len(pushed) < 20
