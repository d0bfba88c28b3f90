"""Test-only fault injector, loaded by every Python process of a suite when this folder is on PYTHONPATH.

``SSL_BENCH_KILL_AT=checkpoint-write|evaluation`` and ``SSL_BENCH_KILL_MARKER=PATH``: the first process to reach that
moment (half-way through writing a checkpoint's temporary file; the start of a trained run's evaluation) creates
PATH and SIGKILLs the suite (its parent, or the fork server's parent) and itself, once per marker. Nothing here runs unless both are set."""

import os

_MOMENT, _MARKER = os.environ.get("SSL_BENCH_KILL_AT"), os.environ.get("SSL_BENCH_KILL_MARKER")


def _kill_once() -> None:
    try:
        descriptor = os.open(_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(descriptor)
    os.kill(_suite(), 9)
    os.kill(os.getpid(), 9)


def _suite() -> int:
    """The suite's process: the parent, or the fork server's parent when a fork server started this cell."""
    parent = os.getppid()
    with open(f"/proc/{parent}/cmdline", "rb") as handle:
        forked_by_server = b"forkserver" in handle.read()
    if not forked_by_server:
        return parent
    with open(f"/proc/{parent}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


if _MOMENT and _MARKER:
    if _MOMENT == "checkpoint-write":
        import ssl_bench.core.checkpoint as checkpoint

        original_write = checkpoint.atomic_write_bytes

        def _write_then_die(path, write):
            def half_then_kill(file):
                write(file)
                file.flush()
                if path.name == "checkpoint.pt":
                    _kill_once()
            original_write(path, half_then_kill)

        checkpoint.atomic_write_bytes = _write_then_die
    elif _MOMENT == "evaluation":
        import dataclasses

        from ssl_bench.sources.base import SOURCES

        trained = SOURCES.get("trained")

        def _die_then_rows(request):
            _kill_once()
            return trained.rows(request)

        SOURCES._items["trained"] = dataclasses.replace(trained, rows=_die_then_rows)
