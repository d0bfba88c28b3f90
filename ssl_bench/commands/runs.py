"""``ssl-bench runs list|show|export``: the raw contents of the results store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssl_bench.bench.store import EXPORT_FORMATS, STATUSES, ResultStore, RunRecord, replace_non_finite
from ssl_bench.commands._flags import add_shared_argument
from ssl_bench.core.paths import check_output_file, reported_write

NAME = "runs"
HELP = "List, show or export (CSV/JSON) the runs stored in the results database."
EXAMPLE = "ssl-bench runs list --suite quick   |   ssl-bench runs show 3f2a9c   |   " \
          "ssl-bench runs export --format csv --out runs.csv"

_LIST_COLUMNS = ("run_id", "suite", "kind", "method", "backbone", "dataset", "epochs", "seed", "status", "knn_top1",
                 "linear_top1", "wall_s")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    add_shared_argument(parser, "store")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per run")
    listing.add_argument("--suite", help="only this suite")
    listing.add_argument("--status", choices=STATUSES, help="only runs with this status")
    add_shared_argument(listing, "json")
    show = actions.add_parser("show", help="everything stored about one run")
    show.add_argument("run_id", help="a run id or a unique prefix of one")
    add_shared_argument(show, "json")
    export = actions.add_parser("export", help="all runs as CSV or JSON")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="csv")
    export.add_argument("--suite", help="only this suite")
    export.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    for action in (listing, show, export):
        add_store_argument(action)


def run(args: argparse.Namespace) -> int:
    with ResultStore(args.store, create=False) as store:
        if args.action == "list":
            _list(store.runs(suite=args.suite, status=args.status), args.json, store.path)
        elif args.action == "show":
            _show(store.get(args.run_id), args.json)
        else:
            text = store.export(args.format, suite=args.suite)
            if args.out is None:
                sys.stdout.write(text)
            else:
                check_output_file(args.out)
                with reported_write(args.out, "the export"):
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(text, encoding="utf-8", newline="\n")
                print(f"wrote {args.out} ({args.format})", file=sys.stderr)
    return 0


def _list(records: list[RunRecord], as_json: bool, path: Path) -> None:
    if as_json:
        runs = [{name: getattr(record, name) for name in ("run_id", "suite", "kind", "method", "backbone", "dataset",
                                                            "split", "epochs", "hparams", "seed", "status", "metrics",
                                                            "wall_time_s", "error")} for record in records]
        print(json.dumps(replace_non_finite({"store": str(path), "runs": runs}), allow_nan=False))
        return
    if not records:
        print(f"no runs in {path} with these filters")
        return
    cells = [[_text(value) for value in (record.run_id, record.suite, record.kind, record.method, record.backbone,
                                         record.dataset, record.epochs, record.seed, record.status,
                                         _percent(record.metrics.get("knn_top1")),
                                         _percent(record.metrics.get("linear_top1")), record.wall_time_s)]
             for record in records]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, title in enumerate(_LIST_COLUMNS)]
    for line in [list(_LIST_COLUMNS), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def _show(record: RunRecord, as_json: bool) -> None:
    values = replace_non_finite(record.to_dict())
    if as_json:
        print(json.dumps(values, sort_keys=True, allow_nan=False))
        return
    for name, value in values.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n  ")
        print(f"{name}: {_text(value)}")


def _percent(value: object) -> str | None:
    return f"{100 * value:.1f}%" if isinstance(value, (int, float)) else None


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
