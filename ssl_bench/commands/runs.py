"""``ssl-bench runs list|show|export``: the raw contents of the results store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ssl_bench.bench.store import EXPORT_FORMATS, STATUSES, ResultStore, RunRecord, replace_non_finite
from ssl_bench.commands._flags import add_shared_argument
from ssl_bench.core.errors import UserError
from ssl_bench.core.paths import check_output_file, reported_write
from ssl_bench.core.settings import MANUAL_SUITE
from ssl_bench.training.config import FEATURES

NAME = "runs"
HELP = "List, show, export (CSV/JSON), add or import the runs stored in the results database."
EXAMPLE = "ssl-bench runs list --suite quick   |   ssl-bench runs show 3f2a9c   |   " \
          "ssl-bench runs export --format csv --out runs.csv   |   ssl-bench runs add runs/simclr-fashion-mnist-convnet-s0" \
          "   |   ssl-bench runs import result.json   |   ssl-bench runs import --schema"

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
    add = actions.add_parser("add", help="record a run directory of ssl-bench train (evaluated by ssl-bench eval)")
    add.add_argument("run_dir", metavar="RUN_DIR", help="a run directory with its eval-FEATURES.json")
    add.add_argument("--features", choices=FEATURES, default="backbone", help="which evaluation of the run (default: "
                                                                             "backbone)")
    add.add_argument("--suite", default=MANUAL_SUITE, help=f"the board the row joins (default: {MANUAL_SUITE})")
    imported = actions.add_parser("import", help="record result documents made elsewhere (or cells' outcome.json)")
    imported.add_argument("files", nargs="*", metavar="FILE", type=Path, help="result documents (JSON)")
    imported.add_argument("--schema", action="store_true", help="print the result documents' JSON Schema and exit")
    for action in (listing, show, export, add, imported):
        add_store_argument(action)


def run(args: argparse.Namespace) -> int:
    if args.action in ("add", "import"):
        return _record(args)
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


def _record(args: argparse.Namespace) -> int:
    from ssl_bench.api import add_run, import_result
    from ssl_bench.bench.results import SCHEMA

    if args.action == "add":
        run_id = add_run(args.run_dir, args.store, suite=args.suite, features=args.features)
        print(f"recorded run {run_id} ({args.run_dir}) in suite {args.suite}")
        return 0
    if args.schema:
        if args.files:
            raise UserError("--schema prints the schema only; drop the files or --schema")
        sys.stdout.write(SCHEMA.read_text(encoding="utf-8"))
        return 0
    if not args.files:
        raise UserError("give the result files to import (ssl-bench runs import --schema prints their format)")
    for path in args.files:
        run_id, new = import_result(path, args.store)
        print(f"{'imported' if new else 'already stored, kept'}: run {run_id} from {path}")
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
