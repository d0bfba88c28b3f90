"""``ssl-bench leaderboard``: render the leaderboard (Markdown, CSV, JSON, static HTML with plots) from the store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssl_bench.bench.store import ResultStore
from ssl_bench.commands._flags import add_shared_argument
from ssl_bench.core.errors import UserError
from ssl_bench.core.paths import check_output_dir, reported_write

NAME = "leaderboard"
HELP = "Render a leaderboard from the results store: leaderboard.md/.csv/.json, index.html and plots/*.svg."
EXAMPLE = "ssl-bench leaderboard --suite quick --out leaderboards/quick/   |   ssl-bench leaderboard --site leaderboards/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", help="only this suite (default: every suite in the store)")
    parser.add_argument("--out", type=Path, help="output folder (default: leaderboards/SUITE/, or leaderboards/all/)")
    add_shared_argument(parser, "store")
    parser.add_argument("--suite-file", type=Path, help="show the published results of this suite file's references: "
                                                         "beside ours (ssl-bench suite run does so by itself)")
    parser.add_argument("--site", type=Path, metavar="DIR",
                        help="instead: write DIR/index.html linking every board (DIR/SUITE/) and report in DIR")
    add_shared_argument(parser, "json", help="print one JSON object listing the files written")


def run(args: argparse.Namespace) -> int:
    from ssl_bench.bench.suite import load_suite
    from ssl_bench.leaderboard import render_leaderboard

    if args.site is not None:
        return _site(args)
    out = args.out or Path("leaderboards") / (args.suite or "all")
    check_output_dir(out)
    references = load_suite(args.suite_file).references if args.suite_file else ()
    with ResultStore(args.store, create=False) as store, reported_write(out, "the leaderboard in"):
        files = render_leaderboard(store, out, suite=args.suite, references=references)
    if args.json:
        print(json.dumps({"out_dir": str(out), "files": [str(path) for path in files]}))
    else:
        print(f"wrote {len(files)} files to {out}/: open {out / 'index.html'} or read {out / 'leaderboard.md'}")
    return 0


def _site(args: argparse.Namespace) -> int:
    from ssl_bench.leaderboard.site import render_site

    given = [flag for flag, value in (("--suite", args.suite), ("--out", args.out), ("--store", args.store),
                                       ("--suite-file", args.suite_file)) if value is not None]
    if given:
        raise UserError(f"--site reads the boards already rendered in its folder; {', '.join(given)} does not apply "
                        f"to it (render a board first, then --site)")
    index = render_site(args.site)
    print(json.dumps({"files": [str(index)]}) if args.json else f"wrote {index}")
    return 0
