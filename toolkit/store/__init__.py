"""Corpora larger than memory: the canonical frame as thread buckets in Parquet (``corpus``), and a dataset
into a store (``ingest``: :func:`open_corpus` is the one way in)."""

from toolkit.store.corpus import (
    Corpus,
    CorpusStore,
    StoreBuild,
    bucket_count,
    bucket_number,
    bucket_of,
    bucket_path,
    read_store,
    store_directory,
    store_key,
    write_store,
)
from toolkit.store.ingest import CorpusSource, open_corpus

__all__ = [
    "Corpus",
    "CorpusSource",
    "CorpusStore",
    "StoreBuild",
    "bucket_count",
    "bucket_number",
    "bucket_of",
    "bucket_path",
    "open_corpus",
    "read_store",
    "store_directory",
    "store_key",
    "write_store",
]
