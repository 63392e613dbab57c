"""Chart drawers: each draws one figure kind from its data table alone (see ``toolkit.plots.figures``)."""

from __future__ import annotations

from dataclasses import replace

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter, NullLocator

from toolkit.plots.base import (
    KEPT_COLOUR,
    REMOVED_COLOUR,
    TOXICITY_CMAP,
    FigureSpec,
    empty_figure,
    empty_note,
    error_bars,
    finish,
    fmt_n,
    fmt_p,
    new_figure,
)


def _wrap_ticks(labels: list[str], n: list[int]) -> list[str]:
    return [f"{lab}\n{fmt_n(k)}" for lab, k in zip(labels, n, strict=True)]


def draw_profile(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Mean score and share above the threshold per bin (categorical x), with CIs and n under each tick.

    Options: ``x`` (bin label column), ``xlabel``, ``label`` (score name), ``threshold``, ``series``
    (subset of ``mean``, ``share_above``), ``ylabel``.
    """
    o = spec.options
    fig, ax = new_figure(width)
    if table.height == 0:
        return empty_figure(fig, ax, "no scored comments", spec)
    x = np.arange(table.height)
    names = {"mean": (f"mean {o.get('label', 'score')}", "mean_low", "mean_high", "o"),
             "share_above": (f"share ≥ {o.get('threshold', '')}", "share_low", "share_high", "s")}
    series = o.get("series", ["mean", "share_above"])
    for k, col in enumerate(series):
        name, low, high, marker = names[col]
        y, err = error_bars(table, col, low, high)
        ax.errorbar(x + (k - (len(series) - 1) / 2) * 0.08, y, yerr=err, marker=marker, capsize=2, label=name,
                    color=f"C{k}")
    labels = [str(v) for v in table[o.get("x", "bin")].to_list()]
    many = table.height > 8
    ticks = labels if many else _wrap_ticks(labels, table["n"].to_list())
    step = max(1, int(np.ceil(table.height / 12)))  # at most ~12 tick labels
    short = max(len(t) for t in labels) <= 3
    ax.set_xticks(x[::step], ticks[::step], rotation=0 if short or not many else 45,
                  ha="right" if many and not short else "center")
    ax.set_xlim(-0.6, table.height - 0.4)
    ax.set_xlabel(o.get("xlabel", "bin") + ("" if many else " (n below)"))
    ax.set_ylabel(o.get("ylabel", o.get("label", "score")))
    ax.set_ylim(0, min(1.0, max(0.1, float(np.nanmax(table.select(
        pl.max_horizontal([pl.col(names[c][2]) for c in series])).to_series().fill_nan(0).fill_null(0).to_numpy()) * 1.15))))
    if len(series) > 1:
        ax.legend(loc="best")
    return finish(fig, spec)


def draw_group_means(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Removed vs kept means per comparison, with CIs; empty comparisons say n=0."""
    fig, ax = new_figure(width)
    counts = table.group_by("comparison", maintain_order=True).agg(pl.col("n").fill_null(0).min().alias("least"))
    comparisons = counts.filter(pl.col("least") > 0)["comparison"].to_list()
    empty = counts.filter(pl.col("least") == 0)["comparison"].to_list()
    table = table.filter(pl.col("comparison").is_in(comparisons))
    if empty:
        spec = replace(spec, footer=f"Not shown (a side has no comments): {'; '.join(empty)}. {spec.footer}")
    if not comparisons:
        return empty_figure(fig, ax, "no comparison has comments on both sides", spec)
    colours = {"removed": REMOVED_COLOUR, "kept": KEPT_COLOUR}
    seen: set[str] = set()
    top = 0.0
    for i, comparison in enumerate(comparisons):
        part = table.filter(pl.col("comparison") == comparison)
        for j, row in enumerate(part.iter_rows(named=True)):
            xpos = i + (j - 0.5) * 0.36
            if not row["n"] or row["mean"] is None or row["mean"] != row["mean"]:
                ax.text(xpos, 0.02, "n=0", ha="center", fontsize=6, color="0.4")
                continue
            ax.bar(xpos, row["mean"], width=0.34, color=colours.get(row["group"], "C2"),
                   label=None if row["group"] in seen else row["group"])
            seen.add(row["group"])
            hi = row["mean_high"] if row["mean_high"] == row["mean_high"] else row["mean"]
            lo = row["mean_low"] if row["mean_low"] == row["mean_low"] else row["mean"]
            ax.errorbar(xpos, row["mean"], yerr=[[row["mean"] - lo], [hi - row["mean"]]], color="black", capsize=2,
                        linewidth=0.8)
            ax.text(xpos, hi + 0.01, f"n={fmt_n(row['n'])}", ha="center", va="bottom", fontsize=6)
            top = max(top, hi)
    if seen:
        ax.legend(loc="upper center", ncol=2)
    ax.set_xticks(range(len(comparisons)), comparisons)
    ax.set_ylabel(f"mean {spec.options.get('label', 'toxicity')}")
    ax.set_ylim(0, max(0.2, top * 1.45))
    return finish(fig, spec)


def draw_histogram(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Histogram of scores from bin edges and counts, the threshold dashed."""
    fig, ax = new_figure(width)
    lows, highs = table["bin_low"].to_numpy(), table["bin_high"].to_numpy()
    ax.bar(lows, table["count"].to_numpy(), width=highs - lows, align="edge", color=KEPT_COLOUR, edgecolor="white",
           linewidth=0.4)
    if "threshold" in spec.options:
        ax.axvline(spec.options["threshold"], color=REMOVED_COLOUR, linestyle="--", linewidth=0.8,
                   label=f"threshold {spec.options['threshold']}")
        ax.legend(loc="upper right")
    ax.set_xlim(0, 1)
    ax.set_xlabel(spec.options.get("label", "toxicity"))
    ax.set_ylabel("comments")
    return finish(fig, spec)


def draw_rate_bars(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """A rate per bin as bars with CIs and n (e.g. removal rate by parent toxicity).

    Options: ``x``, ``y``, ``low``, ``high``, ``xlabel``, ``ylabel``.
    """
    o = spec.options
    fig, ax = new_figure(width)
    rows = table.filter(pl.col("n") > 0)
    if rows.height == 0:
        return empty_figure(fig, ax, "no comments with a known parent", spec)
    y, err = error_bars(rows, o["y"], o["low"], o["high"])
    x = np.arange(rows.height)
    colours = ["0.6" if str(v) == "no score" else REMOVED_COLOUR for v in rows[o["x"]].to_list()]
    ax.bar(x, y, color=colours, width=0.7)
    ax.errorbar(x, y, yerr=err, fmt="none", ecolor="black", capsize=2, linewidth=0.8)
    ax.set_xticks(x, _wrap_ticks([str(v) for v in rows[o["x"]].to_list()], rows["n"].to_list()), fontsize=6)
    ax.set_xlabel(o.get("xlabel", o["x"]) + " (n below)")
    ax.set_ylabel(o.get("ylabel", o["y"]))
    ax.set_ylim(0, min(1.0, max(0.05, float(np.nanmax(y + err[1])) * 1.2)))
    return finish(fig, spec)


def ci_per_row(footer: str, table: pl.DataFrame, key: str = "context") -> str:
    """A caption whose CI note names several methods (``95% CI: A; B (...)``, as a table whose rows use
    different ones gives) with the rows each applies to: ``95% CI: A (self, siblings); B (replies) (...)``.

    >>> t = pl.DataFrame({"context": ["self", "parent", "replies"],
    ...                   "ci_method": ["thread bootstrap", "thread bootstrap", "comment bootstrap"]})
    >>> ci_per_row("n = 9 · 95% CI: comment bootstrap; thread bootstrap (50 replicates, seed 0)", t)
    'n = 9 · 95% CI: thread bootstrap (self, parent); comment bootstrap (replies) (50 replicates, seed 0)'
    """
    if "ci_method" not in table.columns:
        return footer
    used = table.filter(pl.col("ci_method").is_not_null())
    methods = used["ci_method"].unique(maintain_order=True).to_list()
    joint = f"95% CI: {'; '.join(sorted(methods))}"
    if len(methods) < 2 or joint not in footer:
        return footer
    rows = "; ".join(f"{m} ({', '.join(used.filter(pl.col('ci_method') == m)[key].cast(pl.String))})"
                     for m in methods)
    return footer.replace(joint, f"95% CI: {rows}")


def draw_matched_context(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Removed minus matched kept (same thread and depth) per context, with CI, n and p; when the contexts'
    CIs come from different methods (a context matched in one thread only), the caption names each one's."""
    spec = replace(spec, footer=ci_per_row(spec.footer, table))
    fig, ax = new_figure(width, 0.6)
    rows = table.reverse()
    y = np.arange(rows.height)
    est, err = error_bars(rows, "difference", "low", "high")
    ax.axvline(0, color="0.5", linewidth=0.8, linestyle="--")
    ok = ~np.isnan(est)
    ax.errorbar(est[ok], y[ok], xerr=err[:, ok], fmt="o", color=REMOVED_COLOUR, capsize=2)
    labels = [f"{row['context']}\n{fmt_n(row['n_removed'])} rem. / {fmt_n(row['n_kept'])} kept"
              for row in rows.iter_rows(named=True)]
    for yi, row in zip(y, rows.iter_rows(named=True), strict=True):
        text = fmt_p(row["p_value"]) if row["n_removed"] else "no matched pairs"
        ax.annotate(text, (1.0, yi), xycoords=("axes fraction", "data"), xytext=(2, 0), textcoords="offset points",
                    va="center", fontsize=6, color="0.3")
    ax.set_yticks(y, labels, fontsize=6)
    ax.set_ylim(-0.6, rows.height - 0.4)
    lim = np.nanmax(np.abs(np.r_[est[ok] - err[0, ok], est[ok] + err[1, ok], 0.05])) if ok.any() else 0.5
    ax.set_xlim(-lim * 1.15, lim * 1.15)
    ax.set_xlabel(f"{spec.options.get('label', 'toxicity')}: removed − matched kept")
    return finish(fig, spec)


def draw_calm_down(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Change in toxicity (after − before) around removed vs kept comments, with CIs."""
    fig, ax = new_figure(width, 0.6)
    rows = table.filter(pl.col("n_events") > 0)
    if rows.height == 0:
        return empty_figure(fig, ax, "no removed comments with timestamps and neighbours", spec)
    est, err = error_bars(rows, "change", "change_low", "change_high")
    x = np.arange(rows.height)
    colours = [REMOVED_COLOUR if g == "removed" else KEPT_COLOUR for g in rows["group"].to_list()]
    ax.bar(x, est, color=colours, width=0.6)
    ax.errorbar(x, est, yerr=err, fmt="none", ecolor="black", capsize=2, linewidth=0.8)
    ax.axhline(0, color="0.3", linewidth=0.6)
    ax.set_xticks(x, [f"around {g}\n(n={fmt_n(n)})" for g, n in zip(rows["group"], rows["n_events"], strict=True)])
    ax.set_ylabel(f"Δ mean {spec.options.get('label', 'toxicity')}\n(after − before)")
    return finish(fig, spec)


def draw_auc_forest(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """ROC AUC and PR AUC per label with CIs; chance levels (0.5, base rate) marked."""
    fig, axes = new_figure(width, 0.25 + 0.12 * max(table.height, 1), ncols=2, sharey=True)
    y = np.arange(table.height)[::-1]
    for ax, (col, low, high, name) in zip(axes, (("roc_auc", "roc_low", "roc_high", "ROC AUC"),
                                                 ("pr_auc", "pr_low", "pr_high", "PR AUC")), strict=True):
        est, err = error_bars(table, col, low, high)
        ax.errorbar(est, y, xerr=err, fmt="o", color=KEPT_COLOUR, capsize=2, zorder=3)
        if col == "roc_auc":
            ax.axvline(0.5, color="0.5", linestyle="--", linewidth=0.8)
            name += " (dashed: chance)"
        else:
            ax.scatter(table["base_rate"].to_numpy(), y, marker="|", color="0.3", s=80, zorder=2)
            name += " (|: base rate)"
        ax.set_xlim(0, 1)
        ax.set_xlabel(name)
    axes[0].set_yticks(y, table["label"].to_list())
    axes[0].set_ylim(-0.7, table.height - 0.3)
    return finish(fig, spec)


def _log_size_axis(ax: Axes, smallest: float, largest: float) -> None:
    """A log x axis for thread sizes with a margin and readable plain-number ticks."""
    ax.set_xscale("log")
    lo, hi = max(smallest / 1.3, 0.7), largest * 1.3
    ax.set_xlim(lo, hi)
    ax.set_xticks(_log_ticks(lo, hi))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _log_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Readable ticks (1, 1.5, 2, 3, 5 times powers of ten) between lo and hi on a log axis."""
    inside: list[float] = []
    for mults in ((1, 1.25, 1.5, 2, 3, 5, 7.5), (1, 1.5, 2, 3, 5), (1, 2, 5), (1,)):
        inside = sorted({m * 10.0**k for k in range(-6, 7) for m in mults if lo <= m * 10.0**k <= hi})
        if len(inside) <= most:
            return inside
    return inside[:: int(np.ceil(len(inside) / most))]


NOT_CONVERGED = "did not converge"  # removal_logit's note on every term of a fit that did not converge


def _ratio(v: float) -> str:
    """An odds ratio for an annotation: two decimals, three significant digits from 1,000 on (1.87e+05)."""
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.3g}"


def _odds_ratio_axis(ax: Axes, lo: float, hi: float) -> None:
    """The log x axis of odds ratios: plain-number ticks (0.5, 1, 2) over up to three decades, powers of ten
    (10^3) beyond, so that labels never run together ("11000000000")."""
    ax.set_xscale("log")
    lim = (min(lo, 0.9) / 1.2, max(hi, 1.1) * 1.2)
    ax.set_xlim(*lim)
    if lim[1] / lim[0] <= 1e3:
        ax.set_xticks(_log_ticks(*lim))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
        ax.xaxis.set_major_formatter(LogFormatterSciNotation(base=10))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


def draw_odds_ratios(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Odds ratios with CIs on a log axis (intercept left out); dropped terms listed under the axes. A term of
    a model that did not converge (separation) gets no point estimate or CI: its row says so instead."""
    terms = table.filter((pl.col("term") != "const") & pl.col("odds_ratio").is_not_nan())
    dropped = table.filter((pl.col("term") != "const") & pl.col("odds_ratio").is_nan())
    stuck = pl.col("note").fill_null("").str.contains(NOT_CONVERGED, literal=True)
    fig, ax = new_figure(width, 0.3 + 0.12 * max(terms.height, 1))
    if terms.height == 0:
        empty_note(ax, "model not fitted")
    else:
        rows = terms.reverse()
        y = np.arange(rows.height)
        ok = ~rows.select(stuck).to_series().to_numpy()
        fitted = rows.filter(pl.Series(ok))
        est = fitted["odds_ratio"].to_numpy()
        err = np.vstack([est - fitted["or_low"].to_numpy(), fitted["or_high"].to_numpy() - est])
        ax.errorbar(est, y[ok], xerr=err, fmt="o", color=KEPT_COLOUR, capsize=2)
        ax.axvline(1.0, color="0.5", linestyle="--", linewidth=0.8)
        ax.set_yticks(y, rows["term"].to_list())
        ax.set_ylim(-0.6, rows.height - 0.4)
        for yi, row, fine in zip(y, rows.iter_rows(named=True), ok, strict=True):
            text = (f"{_ratio(row['odds_ratio'])} [{_ratio(row['or_low'])}, {_ratio(row['or_high'])}] "
                    f"{fmt_p(row['p_value'])}" if fine else f"not estimated: {row['note']}")
            ax.annotate(text, (1.0, yi), xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=6, color="black" if fine else REMOVED_COLOUR)
        if ok.any():
            _odds_ratio_axis(ax, float(np.nanmin(fitted["or_low"])), float(np.nanmax(fitted["or_high"])))
        else:
            _odds_ratio_axis(ax, 1.0, 1.0)
            empty_note(ax, f"the model {NOT_CONVERGED} (separation?): no odds ratio drawn")
        ax.set_xlabel("odds ratio (95% CI, log scale)")
    notes = []
    if not terms.filter(stuck).is_empty():
        notes.append(f"The model {NOT_CONVERGED} (separation?): its odds ratios are not drawn.")
    if dropped.height:
        notes.append("Not in the model: " + "; ".join(
            f"{t}: {n.removeprefix('dropped: ')}" for t, n in dropped.select("term", "note").iter_rows()) + ".")
    if notes:
        spec = replace(spec, footer=" ".join([*notes, spec.footer]))
    return finish(fig, spec)


def draw_roc_pr(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """ROC and precision-recall curves with bootstrap bands, AUC in the legend; chance lines dashed."""
    fig, axes = new_figure(width, 0.5, ncols=2)
    labels = table["label"].unique(maintain_order=True).to_list()[: spec.options.get("max_labels", 4)]
    for k, label in enumerate(labels):
        for ax, curve in zip(axes, ("roc", "pr"), strict=True):
            part = table.filter((pl.col("label") == label) & (pl.col("curve") == curve))
            if part.height == 0:
                continue
            x, y, lo, hi = (part[c].to_numpy() for c in ("x", "y", "low", "high"))
            ax.fill_between(x, lo, hi, color=f"C{k}", alpha=0.2, linewidth=0)
            ax.plot(x, y, color=f"C{k}", label=f"{label} ({'AUC' if curve == 'roc' else 'AP'} {part['auc'][0]:.3f})")
    axes[0].plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=0.8)
    roc = table.filter(pl.col("curve") == "pr")
    if roc.height:
        base = roc["n_positive"][0] / roc["n"][0] if roc["n"][0] else np.nan
        axes[1].axhline(base, color="0.5", linestyle="--", linewidth=0.8)
        axes[1].annotate(f"base rate {base:.2f}", (0.02, base), xytext=(0, 2), textcoords="offset points",
                         fontsize=6, color="0.4", va="bottom")
    truth = spec.options.get("truth", "truth")
    axes[0].set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1),
                title="ROC")
    axes[1].set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision–recall")
    for ax in axes:
        ax.set_aspect("equal")
        ax.legend(loc="lower right" if ax is axes[0] else "upper right", fontsize=5.5)
    if table.height:
        spec = replace(spec, footer=f"Outcome: {truth}; n = {fmt_n(table['n'][0])}, "
                                    f"{fmt_n(table['n_positive'][0])} positive. {spec.footer}")
    return finish(fig, spec)


def draw_calibration(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Reliability diagram (observed share vs mean predicted score, per bin, CIs) over a count histogram."""
    fig, (ax, hx) = new_figure(width, 1.0, nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=0.8, label="perfect calibration")
    for k, label in enumerate(table["label"].unique(maintain_order=True).to_list()[:4]):
        part = table.filter((pl.col("label") == label) & (pl.col("n") > 0))
        y, err = error_bars(part, "observed", "observed_low", "observed_high")
        ax.errorbar(part["mean_predicted"].to_numpy(), y, yerr=err, marker="o", capsize=2, color=f"C{k}", label=label)
        allbins = table.filter(pl.col("label") == label)
        lows, highs = allbins["bin_low"].to_numpy(), allbins["bin_high"].to_numpy()
        hx.bar(lows, allbins["n"].to_numpy(), width=highs - lows, align="edge", color=f"C{k}", alpha=0.6,
               edgecolor="white", linewidth=0.4)
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel=f"observed share {spec.options.get('truth', 'positive')}")
    ax.legend(loc="upper left", fontsize=6)
    hx.set(xlabel="predicted score (bin mean)", ylabel="comments")
    hx.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    return finish(fig, spec)


def draw_agreement_matrix(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Pairwise Spearman (lower triangle) and agreement at the threshold (upper triangle) between scorers."""
    names = list(dict.fromkeys(table["a"].to_list() + table["b"].to_list()))
    k = len(names)
    fig, ax = new_figure(width, 0.85)
    if k < 2:
        return empty_figure(fig, ax, "needs at least two score columns", spec)
    m = np.full((k, k), np.nan)
    for row in table.iter_rows(named=True):
        i, j = names.index(row["a"]), names.index(row["b"])
        m[max(i, j), min(i, j)] = row["spearman"]
        m[min(i, j), max(i, j)] = row["agreement"]
    np.fill_diagonal(m, 1.0)
    im = ax.imshow(m, cmap="cividis", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if i != j and m[i, j] == m[i, j]:
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if m[i, j] < 0.6 else "black")
    ax.set_xticks(range(k), names, rotation=35, ha="right", fontsize=6)
    ax.set_yticks(range(k), names, fontsize=6)
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    thr = table["threshold"].drop_nans().drop_nulls()
    ax.set_xlabel(f"lower: Spearman ρ · upper: agreement at {thr[0]:g}" if thr.len() else
                  "lower: Spearman ρ · upper: agreement at each scorer's threshold", fontsize=6)
    return finish(fig, spec)


def draw_thread_length(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Toxic share by thread size (log x): one point per bin at its geometric centre, CI, threads per bin."""
    fig, ax = new_figure(width)
    rows = table.filter(pl.col("n_threads") > 0)
    if rows.height == 0:
        return empty_figure(fig, ax, "no scored threads", spec)
    x = np.sqrt(np.maximum(rows["min_size"].to_numpy(), 1) * np.maximum(rows["max_size"].to_numpy(), 1))
    y, err = error_bars(rows, "toxic_share", "share_low", "share_high")
    ax.errorbar(x, y, yerr=err, marker="o", capsize=2, color=KEPT_COLOUR, label="mean of threads' toxic shares")
    if "pooled_share" in rows.columns:
        ax.plot(x, rows["pooled_share"].to_numpy(), linestyle=":", color="0.4", label="pooled over comments")
    last = rows.row(rows.height - 1, named=True)
    ax.axvspan(last["min_size"], max(last["max_size"], last["min_size"] * 1.05), color="0.9", zorder=0,
               label=f"last bin ({fmt_n(last['n_threads'])} threads)")
    _log_size_axis(ax, float(rows["min_size"].min()), float(rows["max_size"].max()))
    ax.set_xlabel("thread size (comments, log scale)")
    ax.set_ylabel(f"share toxic (≥ {spec.options.get('threshold', 0.6)})")
    ax.set_ylim(0, max(0.1, float(np.nanmax(y + err[1])) * 1.2))
    ax.legend(loc="best", fontsize=6)
    return finish(fig, spec)


def draw_thread_scatter(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """One point per thread: size (log x) vs toxic share, coloured by the removed share."""
    fig, ax = new_figure(width)
    if table.height == 0:
        return empty_figure(fig, ax, "no threads", spec)
    sc = ax.scatter(table["n_comments"].to_numpy(), table["toxic_share"].fill_null(np.nan).to_numpy(),
                    c=table["removed_share"].to_numpy(), cmap="cividis", vmin=0,
                    vmax=max(0.05, float(table["removed_share"].max() or 0)), s=12, edgecolors="0.3", linewidths=0.3)
    fig.colorbar(sc, ax=ax, fraction=0.05, pad=0.02).set_label("share removed")
    _log_size_axis(ax, float(table["n_comments"].min()), float(table["n_comments"].max()))
    ax.set_xlabel("thread size (comments)")
    ax.set_ylabel(f"share toxic (≥ {spec.options.get('threshold', '')})")
    ax.set_ylim(-0.02, 1.02)
    return finish(fig, spec)


def draw_thread(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """A thread in page order: one row per comment indented by depth, coloured by score, flags marked
    (text snippets shown for threads of up to 60 rows)."""
    n = table.height
    fig = Figure(figsize=(max(7.2 if width == "double" else 3.5, 5.0), min(0.22 * n + 0.9, 30)))
    ax = fig.subplots()
    cmap = mpl.colormaps[TOXICITY_CMAP]
    depth = table["reply_depth"].fill_null(0).to_numpy().astype(float)
    score = table["score"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    flags = ("removed", "deleted", "is_post")  # unknown = no
    removed, deleted, is_post = (table[c].fill_null(False).to_numpy() for c in flags)
    linked = (table["parent_id"].is_not_null() & (table["structure"] == "tree")).to_numpy() & ~is_post
    y = n - 1 - np.arange(n, dtype=float)
    segs = [[(d - 1, yy + 0.6), (d - 1, yy), (d, yy)] for d, yy in zip(depth[linked], y[linked], strict=True)]
    ax.add_collection(LineCollection(segs, colors="0.7", linewidths=0.5, zorder=1))
    edge = np.where(removed, REMOVED_COLOUR, np.where(deleted, "0.5", "black"))
    lw = np.where(removed | deleted, 1.5, 0.5)
    for mask, marker in ((~is_post, "o"), (is_post, "s")):
        sc, un = mask & ~np.isnan(score), mask & np.isnan(score)
        ax.scatter(depth[sc], y[sc], s=40, c=score[sc], cmap=cmap, vmin=0, vmax=1, marker=marker,
                   edgecolors=edge[sc], linewidths=lw[sc], zorder=2)
        ax.scatter(depth[un], y[un], s=40, c="white", marker=marker, edgecolors=edge[un], linewidths=lw[un], zorder=2)
    if n <= 60:
        for i, row in enumerate(table.select("snippet").to_series().to_list()):
            flag = " [removed]" if removed[i] else (" [deleted]" if deleted[i] else "")
            ax.text(depth[i] + 0.25, y[i], f"{(row or '').replace('$', chr(92) + '$')[:60]}{flag}", va="center",
                    fontsize=6, color=REMOVED_COLOUR if removed[i] else "black")
    ax.set_xlim(-0.5, max(6.0, float(depth.max()) + 4.0) if n else 6)
    ax.set_ylim(-1, n)
    ax.set_yticks([])
    ax.set_xlabel("reply depth")
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.01).set_label(spec.options.get("label", "toxicity"))
    ax.scatter([], [], s=30, facecolors="none", edgecolors=REMOVED_COLOUR, linewidths=1.5, label="removed by moderator")
    ax.scatter([], [], s=30, facecolors="none", edgecolors="0.5", linewidths=1.5, label="deleted by author")
    ax.scatter([], [], s=30, facecolors="white", edgecolors="black", linewidths=0.5, label="no text (unscored)")
    # under the x label, clear of the comment texts: offset in inches converted to axes fraction
    below = -0.42 / max(ax.get_position().height * fig.get_figheight(), 0.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, below), ncol=3, fontsize=6, frameon=False)
    return finish(fig, spec)


def draw_strategy_heatmap(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Strategy × reply depth, colour = share of comments using the strategy (the score row: its mean);
    n per depth under each tick."""
    depths = table.select("depth_bin", "min_depth", "n").group_by("depth_bin", "min_depth").agg(
        pl.col("n").max()).sort("min_depth")
    names = list(dict.fromkeys(table["strategy"].to_list()))
    fig, ax = new_figure(width, 0.3 + 0.045 * max(len(names), 1))
    col = {d: j for j, d in enumerate(depths["depth_bin"])}
    m = np.full((len(names), depths.height), np.nan)
    for name, depth_bin, rate in table.select("strategy", "depth_bin", "rate").iter_rows():
        m[names.index(name), col[depth_bin]] = np.nan if rate is None else rate
    im = ax.imshow(m, cmap=TOXICITY_CMAP, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(depths.height), _wrap_ticks(depths["depth_bin"].to_list(), depths["n"].to_list()),
                  fontsize=5)
    measures = dict(table.select("strategy", "measure").iter_rows())
    ax.set_yticks(range(len(names)), [n if measures[n] == "share using" else f"{n} (mean)" for n in names],
                  fontsize=5)
    ax.set_xlabel("reply depth (n comments with markers)")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="share using")
    return finish(fig, spec)


def draw_log_odds_forest(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Per strategy the log odds ratio (group a vs b) with its CI; zero (no difference) dashed."""
    rows = table.filter(pl.col("log_odds").is_not_nan()).reverse()
    fig, ax = new_figure(width, 0.3 + 0.06 * max(rows.height, 1))
    if rows.height == 0:
        return empty_figure(fig, ax, "no strategy to compare", spec)
    est, err = error_bars(rows, "log_odds", "lo_low", "lo_high")
    y = np.arange(rows.height)
    ax.errorbar(est, y, xerr=err, fmt="o", color=KEPT_COLOUR, capsize=2, markersize=3)
    ax.axvline(0.0, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, rows["strategy"].to_list(), fontsize=5)
    ax.set_ylim(-0.6, rows.height - 0.4)
    ax.set_xlabel(f"log odds ratio ({rows['comparison'][0]})")
    return finish(fig, spec)


def draw_crosswalk(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Per scorer (one panel each): density of (scorer, reference) pairs, the isotonic map to the reference
    scale, and the scorer thresholds that flag the same share as each reference threshold."""
    names = table["scorer"].unique(maintain_order=True).to_list()[:4]
    fig, axes = new_figure(width, 0.9 if len(names) < 2 else 0.55, ncols=max(1, len(names)), squeeze=False)
    if not names:
        return empty_figure(fig, axes[0, 0], "no comment has both scores", spec)
    reference = spec.options.get("reference", "reference")
    for ax, name in zip(axes[0], names, strict=False):
        part = table.filter(pl.col("scorer") == name)
        dens = part.filter(pl.col("part") == "density")
        ax.scatter(dens["x"].to_numpy(), dens["y"].to_numpy(), c=np.log10(dens["value"].to_numpy()),
                   s=6, marker="s", cmap="Greys", vmin=-0.5, linewidths=0, label="pairs (log density)")
        curve = part.filter(pl.col("part") == "map")
        ax.plot(curve["x"].to_numpy(), curve["y"].to_numpy(), color=KEPT_COLOUR, label="isotonic map")
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=0.8)
        for row in part.filter(pl.col("part") == "same_share").iter_rows(named=True):
            ax.axhline(row["y"], color="0.75", linewidth=0.5, zorder=0)
            ax.plot([row["x"]], [row["y"]], marker="D", color=REMOVED_COLOUR, markersize=3.5)
            ax.annotate(f"{row['y']:g} → {row['x']:.2f}", (row["x"], row["y"]), fontsize=5.5,
                        xytext=(3, -8), textcoords="offset points")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=name, ylabel=reference)
    axes[0, 0].legend(loc="upper left", fontsize=5.5)
    return finish(fig, spec)


def draw_specification_curve(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """One panel per (analysis, estimate): each scorer's estimate with its 95% CI, sorted by value (a
    specification curve over instruments); the main scorer in red, estimates that disagree with it in sign or
    significance hollow, the null (column ``null``: 0, or 1 for ratios) dotted."""
    rows = table.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    rows = rows.with_columns((pl.col("analysis") + ": " + pl.col("estimate")).alias("_what"))
    whats = rows["_what"].unique(maintain_order=True).to_list()[:8]
    fig, axes = new_figure(width, 0.28 * max(1, len(whats)) + 0.1, nrows=max(1, len(whats)), squeeze=False)
    if not whats:
        return empty_figure(fig, axes[0, 0], "no estimates", spec)
    main = spec.options.get("main", "")
    for ax, what in zip(axes[:, 0], whats, strict=True):
        part = rows.filter(pl.col("_what") == what).sort("value")
        v, err = error_bars(part, "value", "low", "high")
        for i, row in enumerate(part.iter_rows(named=True)):
            colour = REMOVED_COLOUR if row["scorer"] == main else KEPT_COLOUR
            hollow = row["agrees"] is False
            ax.errorbar([i], [v[i]], yerr=err[:, i:i + 1], fmt="o", color=colour, capsize=1.5, markersize=3.5,
                        markerfacecolor="white" if hollow else colour)
        ax.axhline(float(part["null"][0]), color="0.5", linestyle=":", linewidth=0.8)
        ax.set_xticks(range(part.height), [str(s)[:24] for s in part["scorer"].to_list()], fontsize=5.5)
        ax.set_xlim(-0.6, part.height - 0.4)
        ax.set_title(what[:70], fontsize=6.5)
    axes[-1, 0].set_xlabel("scorer (red: main; hollow: disagrees with it in sign or significance)", fontsize=6)
    return finish(fig, spec, title=False)
