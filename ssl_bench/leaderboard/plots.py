"""Leaderboard plots as SVG text, byte-identical from run to run (fixed ``svg.hashsalt``, no date, text as text).

Each function returns a :class:`Plot` or None when the leaderboard has no data for it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ssl_bench.eval.probe import probe_rows
from ssl_bench.leaderboard.stats import Summary
from ssl_bench.leaderboard.table import Leaderboard, LeaderboardRow, MetricColumn, metric_column
from ssl_bench.sources.base import ordered_sources

EPOCH_KEYS = ("knn_curve_top1", "knn_top1", "linear_top1", "loss", "effective_rank")
PROBE_MEASURES = ("invariance", "equivariance_r2")
_RC = {"svg.hashsalt": "ssl-bench", "svg.fonttype": "none", "font.size": 8.0, "axes.grid": True,
       "grid.alpha": 0.3}


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    svg: str


def render_plots(board: Leaderboard) -> list[Plot]:
    """Every plot the data allows, in a fixed order."""
    with matplotlib.rc_context(_RC):
        plots = [accuracy_vs_epochs(board), knn_vs_linear(board), methods_bar(board), accuracy_vs_cost(board),
                 equivariance_curves(board)]
    return [plot for plot in plots if plot is not None]


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


# numbers that are no evaluation's column (epoch records, the predictivity study's predictors): (axis label, scale)
NOT_A_COLUMN = {"knn_curve_top1": ("learning curve: kNN top-1 (%)", 100.0),
              "early_knn": ("early kNN: learning curve's first point (%)", 100.0),
              "closed_form_knn": ("closed-form counterpart: kNN top-1 (%)", 100.0),
              "closed_form_linear": ("closed-form counterpart: linear top-1 (%)", 100.0)}


def _scale(key: str) -> float:
    if key in NOT_A_COLUMN:
        return NOT_A_COLUMN[key][1]
    return 100.0 if metric_column(key).percent else 1.0


def _axis_label(key: str) -> str:
    if key in NOT_A_COLUMN:
        return NOT_A_COLUMN[key][0]
    column = metric_column(key)
    return f"{column.title} (%)" if column.percent else column.title


def _mean_by(pairs: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """(x, y) pairs from several seeds -> sorted x and the mean y at each x."""
    by_x: dict[float, list[float]] = {}
    for x, y in pairs:
        by_x.setdefault(x, []).append(y)
    xs = sorted(by_x)
    return xs, [math.fsum(by_x[x]) / len(by_x[x]) for x in xs]


CURVE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")
CURVE_STYLES = ((0, ()), (0, (6, 3)), (0, (1, 2)), (3, (4, 2, 1, 2)))  # solid, dashed, dotted, dash-dot: equal
# curves (min-max scaled losses start at 1 and end at 0) show each other's dashes and markers


def accuracy_vs_epochs(board: Leaderboard) -> Plot | None:
    """Per-epoch metrics (mean over seeds) of the trained configurations, one panel per metric. Losses of different
    methods live on different scales and signs (BarlowTwins ~1e3, InfoNCE ~5, SimSiam's negative cosine ~-1), so the
    loss panel rescales each configuration's curve to [0, 1] (1: its highest loss, 0: its lowest)."""
    curves: dict[str, list[tuple[LeaderboardRow, list[float], list[float]]]] = {}
    for key in EPOCH_KEYS:
        for row in board.rows:
            pairs = [(float(epoch["epoch"]), float(epoch[key])) for run in row.runs for epoch in run.epoch_metrics
                     if isinstance(epoch.get(key), (int, float))]
            if pairs:
                xs, ys = _mean_by(pairs)
                if key == "loss":
                    ys = _min_max(ys)
                curves.setdefault(key, []).append((row, xs, [y * _scale(key) for y in ys]))
    if not curves:
        return None
    colors = _label_colors(board)
    figure = Figure(figsize=(3.6 * len(curves) + 1.5, 3.0), layout="constrained")
    for index, (key, lines) in enumerate(curves.items()):
        axes = figure.add_subplot(1, len(curves), index + 1)
        for order, (row, xs, ys) in enumerate(lines):
            axes.plot(xs, ys, marker=CURVE_MARKERS[order % len(CURVE_MARKERS)], markersize=4, markerfacecolor="none",
                      alpha=0.9, label=row.label,
                      color=colors[row.label], linestyle=CURVE_STYLES[order % len(CURVE_STYLES)])
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("loss, min-max scaled per configuration" if key == "loss" else _axis_label(key))
    _figure_legend(figure)
    figure.suptitle("Per-epoch metrics (mean over seeds)")
    return Plot("accuracy_vs_epochs", "Per-epoch metrics", _svg(figure))


def _min_max(values: list[float]) -> list[float]:
    """(v - min) / (max - min); all zeros for a flat curve."""
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 0.0 for v in values]


def knn_vs_linear(board: Leaderboard) -> Plot | None:
    """kNN top-1 against linear-probe top-1 per configuration, with ±1 std bars over seeds; colour = configuration
    (legend), marker = kind, so no label is drawn on the points and none can overlap."""
    rows = [row for row in board.rows if "knn_top1" in row.metrics and "linear_top1" in row.metrics]
    if not rows:
        return None
    figure, axes = _configuration_scatter(board, rows, lambda row: (row.metrics["linear_top1"], row.metrics["knn_top1"]))
    low, high = axes.get_xlim()
    low, high = min(low, axes.get_ylim()[0]), max(high, axes.get_ylim()[1])
    axes.plot([low, high], [low, high], color="black", linewidth=0.6, linestyle="--")
    axes.set_xlabel("linear top-1 (%)")
    axes.set_ylabel("kNN top-1 (%)")
    _figure_legend(figure)
    _marker_legend(axes, {row.kind for row in rows})
    figure.suptitle("kNN vs linear probe")
    return Plot("knn_vs_linear", "kNN vs linear probe", _svg(figure))


def accuracy_vs_cost(board: Leaderboard) -> Plot | None:
    """The first accuracy column against the mean wall time per run (log scale): what each point costs."""
    column = _first_accuracy_column(board)
    rows = [row for row in board.rows if column is not None and column.key in row.metrics and row.wall_time]
    if column is None or not rows:
        return None
    figure, axes = _configuration_scatter(board, rows, lambda row: (row.wall_time, row.metrics[column.key]), x_percent=False)
    axes.set_xscale("log")
    axes.set_xlabel("wall time per run (s, log scale)")
    axes.set_ylabel(_axis_label(column.key))
    _figure_legend(figure)
    _marker_legend(axes, {row.kind for row in rows})
    figure.suptitle(f"{column.title} against cost")
    return Plot("accuracy_vs_cost", f"{column.title} against wall time", _svg(figure))


def _first_accuracy_column(board: Leaderboard) -> MetricColumn | None:
    return next((column for column in board.columns if column.percent), None)


def _configuration_scatter(board: Leaderboard, rows: list[LeaderboardRow],
                           point: Callable[[LeaderboardRow], tuple[Summary, Summary]],
                           x_percent: bool = True) -> tuple[Figure, Any]:
    """One point per configuration at ``point(row)`` = (x, y) summaries (accuracies in %, ±1 std bars over seeds);
    colour = configuration, marker = kind."""
    colors = _label_colors(board)
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    x_scale = 100 if x_percent else 1
    for row in rows:
        x, y = point(row)
        axes.errorbar(x_scale * x.mean, 100 * y.mean, xerr=x_scale * (x.std or 0.0) if x_percent else None,
                      yerr=100 * (y.std or 0.0), fmt=_look(row.kind)[1], color=colors[row.label],
                      capsize=2, label=row.label)
    return figure, axes


def methods_bar(board: Leaderboard) -> Plot | None:
    """The first accuracy column per configuration, coloured by kind: trained vs spectral vs baselines."""
    column = _first_accuracy_column(board)
    rows = [row for row in board.rows if column is not None and column.key in row.metrics]
    if column is None or not rows:
        return None
    longest = max(len(row.label) for row in rows)  # the bars keep ~4 inches beside the labels (fontsize 8)
    figure = Figure(figsize=(4.0 + 0.065 * longest, 0.9 + 0.28 * len(rows)), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]
    summaries = [row.metrics[column.key] for row in rows]
    axes.barh(positions, [100 * s.mean for s in summaries], xerr=[100 * (s.std or 0.0) for s in summaries],
              color=[_look(row.kind)[0] for row in rows], capsize=2)
    axes.set_yticks(positions, [row.label for row in rows])
    axes.set_xlabel(_axis_label(column.key))
    _kind_legend(axes, {row.kind for row in rows})
    figure.suptitle(f"{column.title}: trained vs spectral vs baselines")
    return Plot("methods", f"{column.title} by method", _svg(figure))


def equivariance_curves(board: Leaderboard) -> Plot | None:
    """Probe measures against the transformation magnitude theta: rows = measures, columns = transformations."""
    points: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for row in board.rows:
        for run in row.runs:
            for measure in PROBE_MEASURES:
                for probe_row in probe_rows(run.metrics, measure):
                    slot = points.setdefault((measure, str(probe_row["transform"])), {})
                    slot.setdefault(row.label, []).append((float(probe_row["theta"]), float(probe_row["value"])))
    if not points:
        return None
    measures = [measure for measure in PROBE_MEASURES if any(key[0] == measure for key in points)]
    transforms = sorted({key[1] for key in points})
    colors = _label_colors(board)
    figure = Figure(figsize=(2.8 * len(transforms) + 1.5, 2.3 * len(measures)), layout="constrained")
    for i, measure in enumerate(measures):
        for j, transform in enumerate(transforms):
            axes = figure.add_subplot(len(measures), len(transforms), i * len(transforms) + j + 1)
            for row in board.rows:
                if row.label in points.get((measure, transform), {}):
                    axes.plot(*_mean_by(points[(measure, transform)][row.label]), marker="o", markersize=2.5,
                              label=row.label, color=colors[row.label])
            if i == 0:
                axes.set_title(transform, fontsize=8)
            if i == len(measures) - 1:
                axes.set_xlabel("theta")
            if j == 0:
                axes.set_ylabel(metric_column(f"probe_{measure}").title.replace(" (probe mean)", ""))
    _figure_legend(figure)
    figure.suptitle("Equivariance probe (mean over seeds)")
    return Plot("equivariance", "Equivariance probe", _svg(figure))


def predictor_scatter(predictor: str, panels: list[tuple[str, list[tuple[str, float, float]]]]) -> Plot | None:
    """``predictor`` against each target, one panel per (target, [(method, x, y)]) and one point per trained run,
    coloured by method: what the predictivity table's rank correlations summarise."""
    panels = [(target, found) for target, found in panels if found]
    if not panels:
        return None
    with matplotlib.rc_context(_RC):
        return _predictor_scatter(predictor, panels)


def _predictor_scatter(predictor: str, panels: list[tuple[str, list[tuple[str, float, float]]]]) -> Plot:
    methods = sorted({method for _, found in panels for method, _, _ in found})
    palette = matplotlib.colormaps["tab10"].colors
    colors = {method: palette[index % len(palette)] for index, method in enumerate(methods)}
    figure = Figure(figsize=(3.6 * len(panels) + 1.5, 3.0), layout="constrained")
    for index, (target, found) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        for method in methods:
            mine = [(x, y) for name, x, y in found if name == method]
            if mine:
                axes.scatter([_scale(predictor) * x for x, _ in mine], [_scale(target) * y for _, y in mine], s=14,
                             alpha=0.8, color=colors[method], label=method)
        axes.set_xlabel(_axis_label(predictor))
        axes.set_ylabel(_axis_label(target))
    _figure_legend(figure)
    figure.suptitle(f"{predictor} against final accuracy (one point per run)")
    return Plot(f"predictivity-{predictor}", f"{predictor} against final accuracy", _svg(figure))


def _label_colors(board: Leaderboard) -> dict[str, Any]:
    """One fixed colour per configuration, shared by every panel. Trained configurations (the only ones in the
    per-epoch and probe plots) take the first colours; the palette runs through the most distinct colours first:
    tab20's ten dark then ten light ones, then tab20b's and tab20c's shades (60 before any repeats)."""
    tab20, tab20b, tab20c = (matplotlib.colormaps[name].colors for name in ("tab20", "tab20b", "tab20c"))
    palette = [*tab20[0::2], *tab20[1::2], *[shades[i::4][j] for i in range(4) for j in range(5)
                                            for shades in (tab20b, tab20c)]]
    rows = sorted(board.rows, key=lambda row: not row.epochs)  # trained rows first; stable: board order within each
    return {row.label: palette[index % len(palette)] for index, row in enumerate(rows)}


LEGEND_RIGHT_MAX = 12  # more configurations than this: the legend goes below the panels, which grow to hold it
LEGEND_LINE_INCHES = 0.16  # one legend line at fontsize 7, spacing included


def _figure_legend(figure: Figure) -> None:
    """One legend for all panels, each configuration once: outside on the right, or, for many configurations,
    below the panels in one column with the figure made taller by its height (so the panels keep theirs)."""
    by_label: dict[str, Any] = {}
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            by_label.setdefault(label, handle)
    below = len(by_label) > LEGEND_RIGHT_MAX
    if below:
        figure.set_figheight(figure.get_figheight() + LEGEND_LINE_INCHES * len(by_label) + 0.2)
    figure.legend(list(by_label.values()), list(by_label), loc="outside lower center" if below else "outside right upper",
                  fontsize=7, frameon=False)


def _marker_legend(axes: Any, kinds: set[str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=source.marker, color="black", linestyle="none", label=source.kind)
               for source in ordered_sources() if source.kind in kinds]
    axes.legend(handles=handles, loc="lower right", fontsize=7, title="kind", title_fontsize=7)


def _kind_legend(axes: Any, kinds: set[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=source.colour, label=source.kind) for source in ordered_sources() if source.kind in kinds]
    axes.legend(handles=handles, loc="lower right", fontsize=7)


def _look(kind: str) -> tuple[str, str]:
    """(colour, marker) of the rows of ``kind``: its registered source's; black circles for a kind no source
    registers here (a store written elsewhere)."""
    from ssl_bench.sources.base import SOURCES

    source = SOURCES.get(kind) if kind in SOURCES else None
    return (source.colour, source.marker) if source else ("black", "o")
