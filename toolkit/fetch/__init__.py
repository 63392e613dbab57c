"""Downloaders that write raw archives (one file per response, plus an index) for the loaders to read."""

from toolkit.fetch.lemmy import FetchError, Target, fetch_lemmy, parse_target
from toolkit.settings import FetchSettings

__all__ = ["FetchError", "FetchSettings", "Target", "fetch_lemmy", "parse_target"]
