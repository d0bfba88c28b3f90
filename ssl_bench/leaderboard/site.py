"""One page for every board in a folder (``ssl-bench leaderboard --site leaderboards/``): each rendered board
(``SUITE/leaderboard.json``) with a link to its page, its best kNN and linear top-1 with the row that reached
them, its runs, hardware and code, and when its last run finished; then the other reports of the folder (a
``README.md`` without a board: benchmarks, GPU checks)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.leaderboard.html import CSS

HEADLINES = (("knn_top1", "best kNN top-1"), ("linear_top1", "best linear top-1"))
INDEX = "index.html"


def render_site(root: str | Path) -> Path:
    """Write ``root/index.html`` linking every board and report under ``root``; return its path."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"--site {root}: no such folder; give the folder that holds the boards (e.g. leaderboards/)")
    boards = [(path.parent, _read_board(path)) for path in sorted(root.glob("*/leaderboard.json"))]
    reports = [path.parent for path in sorted(root.glob("*/README.md")) if not (path.parent / "leaderboard.json").exists()]
    if not boards and not reports:
        raise UserError(f"--site {root}: no board (SUITE/leaderboard.json) and no report (NAME/README.md) in it; "
                        f"render boards there first (ssl-bench leaderboard --suite SUITE --out {root}/SUITE)")
    head = ["board", "rows", "runs", *(title for _, title in HEADLINES), "hardware", "code", "last run finished"]
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>ssl-bench leaderboards</title>", f"<style>{CSS}</style>", "</head>", "<body>", "<main>",
             "<h1>ssl-bench leaderboards</h1>",
             "<p>Every board in this folder; each links to its page (tables, plots, every run's protocol). Accuracies "
             "are top-1 % on the test split, the mean over seeds of the best row.</p>",
             '<div class="table-scroll"><table>', "<thead><tr>"
             + "".join(f"<th>{escape(title)}</th>" for title in head) + "</tr></thead>", "<tbody>"]
    for folder, board in boards:
        lines.append("<tr>" + "".join(_board_cells(folder.name, board)) + "</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    if reports:
        lines.append("<h2>Reports</h2>")
        lines.append("<ul>" + "".join(f'<li><a href="{escape(folder.name)}/README.md">{escape(folder.name)}</a>: '
                                      f"{escape(_title(folder / 'README.md'))}</li>" for folder in reports) + "</ul>")
    lines += ["</main>", "</body>", "</html>"]
    out = root / INDEX
    out.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return out


def _read_board(path: Path) -> dict[str, Any]:
    try:
        board = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path} cannot be read as a board ({str(err).splitlines()[0][:120]}); render it again with "
                        f"ssl-bench leaderboard") from None
    if not isinstance(board, dict) or not isinstance(board.get("rows"), list):
        raise UserError(f"{path} is not a board written by ssl-bench leaderboard; render it again")
    return board


def _board_cells(name: str, board: dict[str, Any]) -> list[str]:
    link = f'<a href="{escape(name)}/{INDEX}">{escape(str(board.get("title", name)))}</a>'
    counts = (len(board["rows"]), len(board.get("runs", [])))
    finished = [run.get("finished_at") for run in board.get("runs", []) if run.get("finished_at")]
    texts = [*(_best(board["rows"], key) for key, _ in HEADLINES), _described(board.get("hardware", [])),
             _described(board.get("code", [])),
             max(finished)[:16].replace("T", " ") + " UTC" if finished else "— (rendered before dates were kept)"]
    return [f"<td>{link}</td>", *(f'<td class="num">{count}</td>' for count in counts),
            *(f'<td class="wrap">{escape(text)}</td>' for text in texts)]


def _described(items: list[dict[str, Any]]) -> str:
    """``AMD EPYC, 2 CPUs, no GPU (48); ...``: a board's hardware or code with the number of runs of each."""
    return "; ".join(f"{item['description']} ({item['runs']})" for item in items) or "—"


def _best(rows: list[dict[str, Any]], key: str) -> str:
    scored = [(row["metrics"][key]["mean"], row) for row in rows if isinstance(row.get("metrics", {}).get(key), dict)]
    if not scored:
        return "—"
    mean, row = max(scored, key=lambda item: item[0])
    return f"{100 * mean:.1f} ({row.get('label') or row.get('method')})"


def _title(readme: Path) -> str:
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return readme.parent.name
