"""``toolkit-figures RUN_DIR``: redraw every figure of a run from its saved data tables.

No data, model or scoring is needed: each figure's CSV table and JSON spec sit beside it in
``RUN_DIR/figures``. Change the look with ``--style`` (a plot preset of ``conf/plot/``: paper, double, draft;
or a shipped style name or a .mplstyle path), ``--width single|double`` (or inches), ``--formats png,pdf`` and
``--dpi`` (each overrides the preset's); ``--out DIR`` writes the files there instead of over the run's own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OPTIONS = ("style", "width", "formats", "dpi")


def plot_presets() -> dict[str, dict[str, Any]]:
    """The ``conf/plot/`` presets (the ``plot=NAME`` of a run), name -> ``style, width, formats, dpi``, each
    merged over the presets it extends (``draft`` extends ``paper``).

    >>> plot_presets()["draft"]
    {'style': 'paper', 'width': 'single', 'formats': ['png'], 'dpi': 150}
    """
    from omegaconf import OmegaConf

    from toolkit.io.paths import PROJECT_ROOT

    files = {p.stem: p for p in sorted((PROJECT_ROOT / "conf" / "plot").glob("*.yaml"))}
    raw = {name: OmegaConf.to_container(OmegaConf.load(path)) for name, path in files.items()}

    def merged(name: str) -> dict[str, Any]:
        own = dict(raw[name])
        out: dict[str, Any] = {}
        for parent in own.pop("defaults", []):
            if isinstance(parent, str) and parent in raw and parent != name:
                out.update(merged(parent))
        out.update(own)
        return out

    return {name: {k: merged(name)[k] for k in OPTIONS if k in merged(name)} for name in raw}


def describe(presets: dict[str, dict[str, Any]]) -> str:
    """One line per preset for ``--help``."""
    return "\n".join(f"  {name:<8} {p.get('width')} width, {'+'.join(p.get('formats', []))} at {p.get('dpi')} dpi "
                     f"(matplotlib style {p.get('style')})" for name, p in presets.items())


def parser(presets: dict[str, dict[str, Any]] | None = None) -> argparse.ArgumentParser:
    """The command's arguments (``--help`` lists the plot presets)."""
    presets = plot_presets() if presets is None else presets
    p = argparse.ArgumentParser(
        prog="toolkit-figures", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="styles (--style NAME; conf/plot/NAME.yaml, as plot=NAME in a run):\n" + describe(presets)
        + "\n  or a matplotlib .mplstyle path or style name (keeping the other settings of paper)",
    )
    p.add_argument("run_dir", type=Path, help="a run directory (holding figures/*.json and *.csv)")
    p.add_argument("--style", default="paper", help=f"{', '.join(presets)}, or a .mplstyle path (default: paper)")
    p.add_argument("--width", default=None, help="single, double, or a width in inches (default: the style's)")
    p.add_argument("--formats", default=None, help="comma-separated output formats (default: the style's)")
    p.add_argument("--dpi", type=int, default=None, help="resolution of raster formats (default: the style's)")
    p.add_argument("--only", default=None, help="comma-separated figure names to redraw (default: all)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the figures into this directory (default: over the run's own, RUN_DIR/figures)")
    return p


def render_options(args: argparse.Namespace, presets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``style, width, formats, dpi`` for the renderer: the preset named by ``--style`` (else ``paper`` with
    that matplotlib style), then any option given on the command line."""
    from toolkit.errors import ConfigError
    from toolkit.plots.base import style_path

    if args.style in presets:
        options = dict(presets[args.style])
    else:
        import matplotlib.pyplot as plt

        given = style_path(args.style)
        if not (Path(given).is_file() or given in plt.style.available):
            raise ConfigError("--style", f"{args.style!r}: no such style; choose {', '.join(presets)} or a "
                                         ".mplstyle file")
        options = {**presets.get("paper", {}), "style": args.style}
    options.update({k: getattr(args, k) for k in ("width", "dpi") if getattr(args, k) is not None})
    if args.formats is not None:
        options["formats"] = [f.strip().lstrip(".") for f in args.formats.split(",") if f.strip()]
    options["formats"] = tuple(options.get("formats", ("png", "pdf")))
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw the figures; print what was written. Returns the exit status."""
    presets = plot_presets()
    args = parser(presets).parse_args(argv)
    from toolkit.errors import ConfigError
    from toolkit.plots.figures import render_figure, render_run

    start = time.perf_counter()
    try:
        options = render_options(args, presets)
        if args.only:
            paths = [p for name in args.only.split(",")
                     for p in render_figure(args.run_dir / "figures", name.strip(), out_dir=args.out, **options)]
        else:
            paths = render_run(args.run_dir, out_dir=args.out, **options)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"toolkit-figures: {err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1  # 2: a bad --width or --style
    for path in paths:
        print(path)
    print(f"{len(paths)} files redrawn in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
