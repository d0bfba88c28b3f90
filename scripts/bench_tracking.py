"""What experiment tracking costs a training run: the same run (quick-suite scale: SimCLR, convnet, 2,000
Fashion-MNIST images, batch 128) trained with ``--trackers ''`` and with the default ``--trackers tensorboard``,
interleaved, in fresh processes; the ratio of the per-step time (the epochs' ``seconds``) and of the whole
process's wall time (tracker start-up included), written as JSON.

    python scripts/bench_tracking.py --out leaderboards/bench/tracking.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ssl_bench.bench.provenance import hardware_info

SETTINGS = ["--method", "simclr", "--dataset", "fashion-mnist", "--subset", "2000", "--batch-size", "128",
            "--param", "projector_dims=[512,512]", "--quiet"]


def one_run(trackers: str, epochs: int, folder: Path, index: int) -> dict[str, float]:
    run_dir = folder / f"{trackers or 'none'}-{index}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ssl_bench", "train", *SETTINGS, "--epochs", str(epochs), "--out",
                    str(run_dir), "--trackers", trackers], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    history = json.loads((run_dir / "metrics.json").read_text())
    return {"wall_s": wall, "epoch_s": sum(record["seconds"] for record in history)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the JSON here (default: print it)")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"none": [], "tensorboard": []}
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.repeats):
            for trackers in ("", "tensorboard"):
                runs[trackers or "none"].append(one_run(trackers, args.epochs, Path(folder), index))
    median = {name: {key: statistics.median(run[key] for run in found) for key in ("wall_s", "epoch_s")}
              for name, found in runs.items()}
    result = {
        "what": "ssl-bench train with --trackers '' vs tensorboard (default), " + " ".join(SETTINGS)
                + f" --epochs {args.epochs}; medians of {args.repeats} interleaved runs in fresh processes",
        "machine": {**hardware_info(), "python": platform.python_version()},
        "median": median,
        "training_time_ratio": median["tensorboard"]["epoch_s"] / median["none"]["epoch_s"],
        "process_wall_ratio": median["tensorboard"]["wall_s"] / median["none"]["wall_s"],
        "runs": runs,
    }
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
