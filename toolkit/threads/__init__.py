"""Tree columns computed from parent links."""

from toolkit.threads.tree import (
    DuplicateIdError,
    TreeResult,
    add_tree_columns,
    build_tree,
    climb,
    dedupe_comments,
)

__all__ = ["DuplicateIdError", "TreeResult", "add_tree_columns", "build_tree", "climb", "dedupe_comments"]
