"""Leaderboard -> ``index.html``: one static page (inline CSS, a few lines of inline JS to sort tables, inline SVG
plots), readable offline, with no request to any server."""

from __future__ import annotations

import re
from html import escape

from ssl_bench.leaderboard.markdown import last_line
from ssl_bench.leaderboard.plots import Plot
from ssl_bench.leaderboard.predictivity import PredictivitySection, correlation_text, format_cost
from ssl_bench.leaderboard.stats import Summary
from ssl_bench.leaderboard.table import (
    Leaderboard,
    MetricColumn,
    caveat_notes,
    format_cell,
    format_hparams,
    format_seconds,
    format_summary,
    header_lines,
    identity_columns,
    reference_cells,
    reference_columns,
)

HPARAMS_TITLE = "Hyper-parameters"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #fff; }
main { max-width: 1360px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.table-scroll { overflow-x: auto; max-width: 100%; margin: .5rem 0 1.5rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { padding: .25rem .45rem; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
td.num, th.num { text-align: right; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; white-space: normal; vertical-align: bottom; }
th[data-order="asc"]::after { content: " \\25B2"; }
th[data-order="desc"]::after { content: " \\25BC"; }
td.best { font-weight: 700; }
td.wrap { white-space: normal; min-width: 9rem; max-width: 18rem; overflow-wrap: anywhere; }
figure { margin: 1rem 0 2rem; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; font-size: 12px; }
"""

_JS = """
for (const table of document.querySelectorAll("table.sortable")) {
  table.tHead.querySelectorAll("th").forEach((th, index) => th.addEventListener("click", () => {
    const ascending = th.dataset.order !== "asc";
    table.tHead.querySelectorAll("th").forEach(other => delete other.dataset.order);
    th.dataset.order = ascending ? "asc" : "desc";
    const key = row => {
      const cell = row.cells[index];
      const text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
      const number = parseFloat(text);
      return isNaN(number) ? text : number;
    };
    const rows = Array.from(table.tBodies[0].rows);
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
      return ascending ? order : -order;
    });
    rows.forEach(row => table.tBodies[0].appendChild(row));
  }));
}
"""


def to_html(board: Leaderboard, plots: list[Plot], study: PredictivitySection | None = None) -> str:
    title = f"ssl-bench leaderboard: {board.title}"
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{escape(title)}</title>",
             f"<style>{CSS}</style>", "</head>", "<body>", "<main>", f"<h1>{escape(title)}</h1>", "<dl>"]
    for label, text in header_lines(board):
        parts.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    parts += ["</dl>", "<p>Click a column header to sort.</p>", "<h2>Leaderboard</h2>", *_leaderboard_table(board)]
    if board.references:
        parts += ["<h2>Published results beside ours</h2>",
                  "<p>Differences are ours minus published, in points; † marks a reference whose protocol differs from "
                  "ours (each difference is named in the last column).</p>", *_references_table(board)]
    if plots:
        parts += ["<h2>Plots</h2>", *_figures(plots)]
    if study is not None:
        parts += _predictivity(study)
    parts += ["<h2>All runs</h2>", *_runs_table(board)]
    if board.failed:
        parts += ["<h2>Failed runs</h2>", *_failed_table(board)]
    parts += [f"<script>{_JS}</script>", "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _predictivity(study: PredictivitySection) -> list[str]:
    """Does a predictor rank the trained runs as their final accuracy does (``ssl-bench predictivity``)?"""
    head = [_th(title) for title in ("Scope", "Predictor", "Target")]
    head += [_th(title, numeric=True) for title in ("Runs", "Configurations", "Spearman", "Kendall tau-b",
                                                    "Cost (x training)")]
    body = []
    for row in study.rows:
        cells = [_text_td(row.scope), _text_td(row.predictor), _text_td(row.target),
                 _number_td(str(row.spearman.n), row.spearman.n), _number_td(str(row.configurations), row.configurations)]
        cells += [_number_td(correlation_text(c), c.value) for c in (row.spearman, row.kendall)]
        cells.append(_number_td(format_cost(row.cost_fraction), row.cost_fraction))
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts = ["<h2>Predictivity</h2>",
             "<p>Rank correlation of each predictor with the final accuracy of the trained runs, per method (across "
             "its sweep and seeds) and across methods; 95% bootstrap intervals resample configurations with all "
             "their seeds. Cost: the predictor's median cost as a fraction of a run's training time. Also as "
             '<a href="predictivity.md">Markdown</a>, <a href="predictivity.csv">CSV</a> and '
             '<a href="predictivity.json">JSON</a>.</p>', *_table(head, body), *_figures(study.plots)]
    return parts


def _figures(plots: list[Plot]) -> list[str]:
    """Each plot as a figure with its caption, its SVG inline."""
    return [line for plot in plots for line in (f'<figure id="plot-{plot.name}">', inline_svg(plot.svg, prefix=plot.name),
                                                f"<figcaption>{escape(plot.title)}</figcaption>", "</figure>")]


def _leaderboard_table(board: Leaderboard) -> list[str]:
    identity = identity_columns(board)
    head = [_th(title) for title, _ in identity] + [_th(c.title, numeric=True) for c in board.columns]
    head += [_th("n", numeric=True), _th("Wall time (s)", numeric=True)]
    body = []
    for row in board.rows:
        cells = [_text_td(cell(row), wrap=title == HPARAMS_TITLE) for title, cell in identity]
        cells += [_metric_td(row.metrics.get(c.key), c, best=c.key in row.best, text=format_cell(row, c),
                             title=row.caveats.get(c.key)) for c in board.columns]
        cells += [_number_td(str(len(row.runs)), len(row.runs)),
                  _number_td(format_seconds(row.wall_time), row.wall_time.mean if row.wall_time else None)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = caveat_notes(board)
    return _table(head, body) + (["<ul class=\"caveats\">" + "".join(f"<li>{escape(note)}</li>" for note in notes)
                                  + "</ul>"] if notes else [])


def _runs_table(board: Leaderboard) -> list[str]:
    head = [_th(title) for title in ("Run", "Method", "Kind", "Backbone", "Dataset", "Epochs", "Hyper-parameters")]
    head += [_th("Seed", numeric=True)] + [_th(c.title, numeric=True) for c in board.columns]
    head += [_th("Wall time (s)", numeric=True), _th("Peak memory (MB)", numeric=True), _th("Commit")]
    body = []
    for row in board.rows:
        for run in row.runs:
            cells = [_text_td(text) for text in (run.run_id, run.method, run.kind, run.backbone or "—",
                                                 run.dataset, str(run.epochs or "—"))]
            cells.append(_text_td(format_hparams(run.hparams), wrap=True))
            cells.append(_number_td(str(run.seed), run.seed))
            for column in board.columns:
                value = column.extract(run.metrics)
                cells.append(_metric_td(None if value is None else Summary((value,)), column, best=False))
            wall = Summary((run.wall_time_s,)) if run.wall_time_s is not None else None
            cells += [_number_td(format_seconds(wall), run.wall_time_s),
                      _number_td("—" if run.peak_memory_mb is None else f"{run.peak_memory_mb:.0f}",
                                 run.peak_memory_mb),
                      f"<td>{escape(run.git_commit[:12])}</td>"]
            body.append("<tr>" + "".join(cells) + "</tr>")
    return _table(head, body)


def _failed_table(board: Leaderboard) -> list[str]:
    head = [_th(title) for title in ("Run", "Method", "Kind", "Dataset", "Seed", "Attempts", "Error")]
    body = []
    for run in board.failed:
        error = (f"<details><summary>{escape(last_line(run.error))}</summary><pre>{escape(run.error or '')}</pre>"
                 f"</details>")
        cells = [f"<td>{escape(text)}</td>" for text in (run.run_id, run.method, run.kind, run.dataset,
                                                        str(run.seed), str(run.attempts))]
        body.append("<tr>" + "".join(cells) + f"<td>{error}</td></tr>")
    return _table(head, body)


def _references_table(board: Leaderboard) -> list[str]:
    columns = reference_columns()
    head = [_th(title, numeric=numeric) for title, numeric, _ in columns]
    body = []
    for item in board.references:
        numbers = iter((item.reference.value, item.ours, item.difference))  # the numeric columns, in order
        cells = [_number_td(text, next(numbers)) if numeric else _text_td(text, wrap=wrapped)
                 for (_, numeric, wrapped), text in zip(columns, reference_cells(item))]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return _table(head, body)


def _table(head: list[str], body: list[str]) -> list[str]:
    """A sortable table in a box that scrolls sideways when the table is wider than the page."""
    return ['<div class="table-scroll">', '<table class="sortable">', "<thead><tr>" + "".join(head) + "</tr></thead>",
            "<tbody>", *body, "</tbody>", "</table>", "</div>"]


def _text_td(text: str, wrap: bool = False) -> str:
    return f'<td class="wrap">{escape(text)}</td>' if wrap else f"<td>{escape(text)}</td>"


def _th(title: str, numeric: bool = False) -> str:
    return f'<th class="num">{escape(title)}</th>' if numeric else f"<th>{escape(title)}</th>"


def _metric_td(summary: Summary | None, column: MetricColumn, best: bool, text: str | None = None,
               title: str | None = None) -> str:
    classes = "num best" if best else "num"
    sort = "-Infinity" if summary is None else repr(summary.mean)
    hover = f' title="{escape(title)}"' if title else ""
    shown = format_summary(summary, column) if text is None else text
    return f'<td class="{classes}" data-sort="{sort}"{hover}>{escape(shown)}</td>'


def _number_td(text: str, value: float | None) -> str:
    sort = "-Infinity" if value is None else repr(value)
    return f'<td class="num" data-sort="{sort}">{escape(text)}</td>'


def inline_svg(svg: str, prefix: str) -> str:
    """Matplotlib's SVG document -> an ``<svg>`` element for an HTML page: no XML prolog or DOCTYPE, and every
    id (and each reference to one) prefixed so that several plots on one page never share an id."""
    start = svg.index("<svg")
    body = svg[start:]
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", body)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', body).strip()
