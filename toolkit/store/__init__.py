"""Corpora larger than memory: the canonical frame as thread buckets in Parquet (see ``corpus``)."""

from toolkit.store.corpus import (
    CorpusStore,
    StoreBuild,
    bucket_count,
    bucket_of,
    open_store,
    read_store,
    store_directory,
    store_key,
    write_store,
)

__all__ = [
    "CorpusStore",
    "StoreBuild",
    "bucket_count",
    "bucket_of",
    "open_store",
    "read_store",
    "store_directory",
    "store_key",
    "write_store",
]
