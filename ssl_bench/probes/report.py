"""A probe's result kept as files: ``probe.json`` (protocol, summary, tidy rows, the plot's path) and its plot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ssl_bench import __version__
from ssl_bench.core.checkpoint import atomic_write_json
from ssl_bench.core.paths import check_output_file, reported_write
from ssl_bench.probes.equivariance import probe


def probe_paths(run_dir: Path, features: str, out: str | Path | None) -> tuple[Path, Path]:
    """(json, png): ``out`` and ``out`` with suffix .png, else RUN_DIR/probe[-projector].json and .png."""
    json_path = Path(out) if out else run_dir / ("probe.json" if features == "backbone" else f"probe-{features}.json")
    return json_path, json_path.with_suffix(".png")


def probe_to_files(
    encoder: Callable, test: Any, json_path: Path, title: str, protocol: dict[str, Any],
    transforms: Sequence[str] | None, n: int | None, seed: int, device: Any,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Probe ``encoder`` on ``test``; write ``json_path`` (protocol, summary, rows, plot path) and the PNG (the
    place checked first, a failed write one line)."""
    check_output_file(json_path)
    result = probe(encoder, test.images, transforms=transforms, n=n, seed=seed, device=device, progress=progress)
    result.protocol.update({"dataset": test.name, "split": f"test ({len(test)} images, {result.protocol['n']} probed)",
                            "package_version": __version__, **protocol})
    png_path = json_path.with_suffix(".png")
    from ssl_bench.probes.plot import plot_probe  # matplotlib only when a probe plots: every command starts faster

    payload = {**result.to_dict(), "plot": str(png_path)}
    with reported_write(json_path, "the probe result"):
        json_path.parent.mkdir(parents=True, exist_ok=True)
        plot_probe(result, png_path, title=title)
        atomic_write_json(json_path, payload)
    return payload
