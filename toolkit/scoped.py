"""Process-wide settings changed only for a block and restored after it: every change the toolkit makes to
global state (environment variables, module flags, interpreter and csv limits, the socket timeout, thread stack
size) goes through here, so a reader can grep for it and a caller's own settings survive.

>>> import os
>>> from toolkit import scoped
>>> with scoped.environ(TOOLKIT_DOCTEST="1"):
...     os.environ["TOOLKIT_DOCTEST"]
'1'
>>> "TOOLKIT_DOCTEST" in os.environ
False
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

_LOCK = threading.RLock()  # one lock for every change below: a save and its restore never interleave


def environ(**values: str | None) -> contextlib.AbstractContextManager[None]:
    """Environment variables set (``None``: removed) for the block; each gets back its value, or its absence.

    >>> with environ(HOME=None):
    ...     "HOME" in os.environ
    False
    """
    return _swapped(os.environ.get, _set_environ, values)


def _set_environ(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def attributes(target: Any, **values: Any) -> contextlib.AbstractContextManager[None]:
    """Attributes of ``target`` (a module's flag, say) set for the block and restored after it.

    >>> import types
    >>> flags = types.SimpleNamespace(offline=False)
    >>> with attributes(flags, offline=True):
    ...     flags.offline
    True
    >>> flags.offline
    False
    """
    return _swapped(lambda name: getattr(target, name), lambda name, value: setattr(target, name, value), values)


def socket_timeout(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    """``socket.setdefaulttimeout`` for the block (so a stalled download gives up), restored after it."""
    return _swapped(lambda _: socket.getdefaulttimeout(), lambda _, value: socket.setdefaulttimeout(value),
                    {"timeout": seconds})


@contextlib.contextmanager
def _swapped(get: Callable[[str], Any], put: Callable[[str, Any], None], values: dict[str, Any]) -> Iterator[None]:
    """Each of ``values`` ``put`` for the block, then put back as ``get`` read it before."""
    with _LOCK:
        saved = {name: get(name) for name in values}
        for name, value in values.items():
            put(name, value)
    try:
        yield
    finally:
        with _LOCK:
            for name, value in saved.items():
                put(name, value)


class RaisedLimit:
    """A process-wide limit raised while at least one block needs it, restored when the last block ends.

    Holders are counted: two threads each raising the limit never restore it under each other's feet, and
    the value outside every block is the caller's own (whatever it was when the first block began).
    """

    def __init__(self, get: Callable[[], int], set_: Callable[[int], Any]) -> None:
        self._get, self._set = get, set_
        self._wanted: Counter[int] = Counter()
        self._saved = 0

    @contextlib.contextmanager
    def at_least(self, value: int) -> Iterator[None]:
        """The limit is at least ``value`` inside the block (never lowered)."""
        with _LOCK:
            if not self._wanted:
                self._saved = self._get()
            self._wanted[value] += 1
            self._set(max(self._saved, *self._wanted))
        try:
            yield
        finally:
            with _LOCK:
                self._wanted[value] -= 1
                if not self._wanted[value]:
                    del self._wanted[value]
                self._set(max(self._saved, *self._wanted) if self._wanted else self._saved)


recursion_limit = RaisedLimit(sys.getrecursionlimit, sys.setrecursionlimit)
"""``sys.setrecursionlimit`` for a block: ``with recursion_limit.at_least(n): ...``."""

csv_field_limit = RaisedLimit(csv.field_size_limit, csv.field_size_limit)
"""``csv.field_size_limit`` for a block.

>>> before = csv.field_size_limit()
>>> with csv_field_limit.at_least(2**30):
...     csv.field_size_limit()
1073741824
>>> csv.field_size_limit() == before
True
"""


def start_thread(target: Callable[[], Any], *, stack_size: int, name: str) -> threading.Thread:
    """A started daemon thread with a ``stack_size``-byte stack: the process's default stack size for new
    threads is changed only while this one starts, and restored right after.

    >>> worker = start_thread(lambda: None, stack_size=2**24, name="doctest")
    >>> worker.join()
    >>> threading.stack_size()
    0
    """
    with _LOCK:
        old = threading.stack_size(stack_size)
        try:
            worker = threading.Thread(target=target, name=name, daemon=True)
            worker.start()
        finally:
            threading.stack_size(old)
    return worker
