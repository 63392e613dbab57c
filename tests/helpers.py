"""Helpers shared by several test modules (test modules never import each other): repository paths and
the one way tests compose the Hydra config."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(REPO / "conf")
