"""``ssl-bench probe`` on a tiny trained run of the synthetic dataset."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ssl_bench.cli import build_parser, main
from ssl_bench.commands import probe as probe_command
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "simclr-synthetic"
    config = make_config({"method": "simclr", "dataset": "synthetic", "epochs": 1, "batch_size": 64,
                          "device": "cpu", "out": str(out)})
    return train(config, progress=False)


def test_probe_json_is_printed_alone_and_stored_with_the_run(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["probe", str(run_dir), "--transforms", "rotate,hflip", "--n", "120", "--device", "cpu", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    printed = json.loads(captured.out)  # exactly one JSON object on stdout
    assert "probing rotate" in captured.err
    stored = json.loads((run_dir / "probe.json").read_text())
    assert stored == printed
    assert printed["protocol"]["dataset"] == "synthetic" and printed["protocol"]["method"] == "simclr"
    assert set(printed["summary"]) == {"rotate", "hflip"}
    assert printed["protocol"]["n"] == 120 and len(printed["protocol"]["transforms"]["rotate"]["thetas"]) == 8
    assert Path(printed["plot"]) == run_dir / "probe.png"
    assert (run_dir / "probe.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_out_and_table(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "elsewhere" / "p.json"
    assert main(["probe", str(run_dir), "--transforms", "brightness", "--n", "60", "--device", "cpu",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[1].startswith("brightness")
    assert json.loads(out.read_text())["summary"]["brightness"]["recoverability_r2"] is not None
    assert out.with_suffix(".png").is_file()


def test_probe_errors_are_one_line(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["probe", str(tmp_path), "--n", "60"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["probe", str(run_dir), "--transforms", "hue", "--n", "60", "--device", "cpu"]) == 2
    assert "needs RGB" in capsys.readouterr().err
    assert main(["probe", str(run_dir), "--transforms", "shear", "--n", "60", "--device", "cpu"]) == 2
    assert "unknown transform 'shear'" in capsys.readouterr().err


def test_help_example_parses() -> None:
    trained, spectral = (shlex.split(example) for example in probe_command.EXAMPLE.split("|"))
    assert trained[0] == spectral[0] == "ssl-bench"
    args = build_parser().parse_args(trained[1:])
    assert args.transforms == ["rotate", "translate", "hflip"] and args.n == 1000 and args.json
    args = build_parser().parse_args(spectral[1:])
    assert args.spectral == "laplacian-eigenmaps" and args.subset == 5000 and args.run_dir is None


def test_probe_of_a_spectral_method_embeds_out_of_sample(tmp_path, capsys):
    out = tmp_path / "le" / "probe.json"
    assert main(["probe", "--spectral", "laplacian-eigenmaps", "--dataset", "synthetic", "--subset", "300",
                 "--dim", "8", "--n", "120", "--transforms", "rotate,hflip", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"]["method"] == "laplacian-eigenmaps" and result["protocol"]["fit_images"] == 300
    assert set(result["summary"]) == {"rotate", "hflip"}
    assert json.loads(out.read_text())["summary"] == result["summary"] and out.with_suffix(".png").exists()
    assert main(["probe", "--spectral", "cca", "--dataset", "synthetic"]) == 2
    assert "no single-image probe" in capsys.readouterr().err
