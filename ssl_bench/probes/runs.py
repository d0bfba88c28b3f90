"""Probe a trained run on its dataset's test split; store ``probe.json`` and ``probe.png`` with the run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ssl_bench import __version__
from ssl_bench.checkpoint import atomic_write_json
from ssl_bench.data.datasets import load_dataset
from ssl_bench.probes.equivariance import probe
from ssl_bench.probes.plot import plot_probe
from ssl_bench.train import load_encoder, resolve_device


def probe_paths(run_dir: Path, features: str, out: str | Path | None) -> tuple[Path, Path]:
    """(json, png): ``out`` and ``out`` with suffix .png, else RUN_DIR/probe[-projector].json and .png."""
    json_path = Path(out) if out else run_dir / ("probe.json" if features == "backbone" else f"probe-{features}.json")
    return json_path, json_path.with_suffix(".png")


def probe_run(
    run_dir: str | Path,
    transforms: Sequence[str] | None = None,
    n: int | None = 2000,
    seed: int = 0,
    features: str = "backbone",
    device: str = "auto",
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Probe the last checkpoint of ``run_dir`` (see :func:`ssl_bench.probes.equivariance.probe`).

    Writes the JSON dict it returns (protocol, summary, rows, and the plot's path) and the plot.
    """
    run_dir = Path(run_dir)
    encoder, config = load_encoder(run_dir, features)
    torch_device = resolve_device(device)
    test = load_dataset(config.dataset, "test", download=config.download)
    result = probe(encoder.to(torch_device), test.images, transforms=transforms, n=n, seed=seed,
                   device=torch_device, progress=progress)
    json_path, png_path = probe_paths(run_dir, features, out)
    result.protocol.update({
        "dataset": test.name, "split": f"test ({len(test)} images, {result.protocol['n']} probed)",
        "run_dir": str(run_dir), "method": config.method, "backbone": config.backbone, "features": features,
        "run_seed": config.seed, "package_version": __version__,
    })
    plot_probe(result, png_path, title=f"{config.method} / {config.backbone} on {test.name} ({features} features)")
    payload = {**result.to_dict(), "plot": str(png_path)}
    atomic_write_json(json_path, payload)
    return payload
