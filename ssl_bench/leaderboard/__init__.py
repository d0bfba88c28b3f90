"""Results store -> published leaderboards: ``leaderboard.md``, ``leaderboard.csv``, ``leaderboard.json``,
``index.html`` and ``plots/*.svg``, byte-identical when rendered twice from the same store; for a suite with sweeps
also ``predictivity.md|csv|json``, their section of the page and their scatter plots."""

from __future__ import annotations

from pathlib import Path

from ssl_bench.bench.references import PublishedResult
from ssl_bench.bench.store import ResultStore
from ssl_bench.core.errors import UserError
from ssl_bench.leaderboard.stats import Difference, Summary, difference_ci
from ssl_bench.leaderboard.table import Leaderboard, build_leaderboard

__all__ = ["Difference", "Leaderboard", "Summary", "build_leaderboard", "difference_ci",
           "render_leaderboard"]


def render_leaderboard(store: ResultStore, out_dir: str | Path, suite: str | None = None,
                       references: tuple[PublishedResult, ...] = ()) -> list[Path]:
    """Render the runs of ``suite`` (all suites when None) into ``out_dir``; return the files written.
    ``references``: published results to show beside ours (a suite file's ``references:``).

    Stale ``plots/*.svg`` from an earlier rendering are removed, so the folder always matches the store.
    """
    from ssl_bench.leaderboard.html import to_html
    from ssl_bench.leaderboard.markdown import to_markdown
    from ssl_bench.leaderboard.plots import render_plots
    from ssl_bench.leaderboard.predictivity import predictivity_section
    from ssl_bench.leaderboard.tabular import to_csv, to_json

    records = store.runs(suite=suite)
    if not records:
        known = ", ".join(store.suites()) or "none yet"
        which = f"suite {suite!r}" if suite else "any suite"
        raise UserError(f"no runs for {which} in the store; suites stored: {known}")
    board = build_leaderboard(records, title=suite or "all suites", references=references)
    plots = render_plots(board)
    study = predictivity_section(records)
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    files = {out / "leaderboard.md": to_markdown(board, plots), out / "leaderboard.csv": to_csv(board),
             out / "leaderboard.json": to_json(board), out / "index.html": to_html(board, plots, study)}
    files.update({out / "plots" / f"{plot.name}.svg": plot.svg for plot in [*plots, *(study.plots if study else [])]})
    if study is not None:
        files.update({out / f"predictivity.{suffix}": text for suffix, text in study.files.items()})
    for stale in sorted(set((out / "plots").glob("*.svg")) - set(files)):
        stale.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="\n")
    return sorted(files)
