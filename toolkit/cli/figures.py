"""``toolkit-figures RUN_DIR``: redraw every figure of a run from its saved data tables.

No data, model or scoring is needed: each figure's CSV table and JSON spec sit beside it in
``RUN_DIR/figures``. Change the look with ``--style`` (a shipped style name or a .mplstyle path),
``--width single|double`` (or inches), ``--formats png,pdf`` and ``--dpi``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(prog="toolkit-figures", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="a run directory (holding figures/*.json and *.csv)")
    p.add_argument("--style", default="paper", help="shipped style name or .mplstyle path (default: paper)")
    p.add_argument("--width", default="single", help="single, double, or a width in inches (default: single)")
    p.add_argument("--formats", default="png,pdf", help="comma-separated output formats (default: png,pdf)")
    p.add_argument("--dpi", type=int, default=300, help="resolution of raster formats (default: 300)")
    p.add_argument("--only", default=None, help="comma-separated figure names to redraw (default: all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw the figures; print what was written. Returns the exit status."""
    args = parser().parse_args(argv)
    from toolkit.errors import ConfigError
    from toolkit.plots.figures import render_figure, render_run

    formats = tuple(f.strip().lstrip(".") for f in args.formats.split(",") if f.strip())
    options = {"style": args.style, "width": args.width, "formats": formats, "dpi": args.dpi}
    start = time.perf_counter()
    try:
        if args.only:
            fig_dir = args.run_dir / "figures"
            paths = [p for name in args.only.split(",") for p in render_figure(fig_dir, name.strip(), **options)]
        else:
            paths = render_run(args.run_dir, **options)
    except ConfigError as err:  # a bad --width
        print(f"toolkit-figures: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"toolkit-figures: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print(f"{len(paths)} files redrawn in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
