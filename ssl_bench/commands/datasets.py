"""``ssl-bench datasets``: the datasets ssl-bench knows, their sizes, and whether each is available here."""

from __future__ import annotations

import argparse
import json

from ssl_bench.commands._flags import add_shared_argument

NAME = "datasets"
HELP = "List the datasets, their sizes and whether each is available here (nothing is downloaded)."
EXAMPLE = "ssl-bench datasets --json"

COLUMNS = ("name", "n_train", "n_test", "channels", "size", "num_classes", "available")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_shared_argument(parser, "json", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    from ssl_bench.data.datasets import DEBIAN_FASHION_MNIST, data_root, dataset_table

    rows = dataset_table()
    if args.json:
        print(json.dumps({"datasets": rows, "data_root": str(data_root()), "debian_dir": str(DEBIAN_FASHION_MNIST)}))
        return 0
    cells = [[_cell(row[column]) for column in COLUMNS] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(COLUMNS)]
    for line in [list(COLUMNS), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    print(f"\ndata root: {data_root()} (set SSL_BENCH_DATA to change it; fetch a missing set with --download)")
    return 0


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
