"""The ``ssl-bench`` command line: a thin layer that parses arguments and calls the library.

Each sub-command lives in its own module under :mod:`ssl_bench.commands` and exposes
``NAME``, ``HELP``, ``EXAMPLE``, ``add_arguments(parser)`` and ``run(args) -> int``; they are discovered here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import typing

from ssl_bench import __version__, commands
from ssl_bench.core.errors import UserError, one_line


class OneLineErrors(argparse.ArgumentParser):
    """An argument mistake is one ``error:`` line naming the command and pointing at its --help; exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, one_line(f"error: {self.prog}: {message} (see {self.prog} --help)") + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="ssl-bench",
        description="Train, evaluate and compare self-supervised methods and their spectral closed forms.",
        epilog="example: ssl-bench train --method simclr --dataset fashion-mnist --subset 5000 --epochs 10",
    )
    parser.add_argument("--version", action="version", version=f"ssl-bench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # shared helpers, not commands
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        sub = subparsers.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.HELP,
            epilog=f"example: {module.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or an argument error already printed
        return int(stop.code or 0)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except UserError as err:
        print(one_line(f"error: {err}"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `ssl-bench runs list | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted; finished results are kept, rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
