"""Install like a library: the wheel built from this checkout, installed into a fresh venv, works without the
source tree: the command line, ``python -m ssl_bench datasets``, the Python API's example and the package data
(the result schema). The venv sees the heavy dependencies (torch, faiss, ...) of this environment through a .pth
line instead of installing gigabytes again; ssl-bench itself comes only from the wheel (checked)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_EXAMPLE = """
import json, torch, ssl_bench
encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 32))
result = ssl_bench.evaluate_encoder(encoder, "synthetic", name="from-wheel", subset=200, evaluations=["knn"])
print(json.dumps({"file": ssl_bench.__file__, "knn_top1": result["knn_top1"], "method": result["protocol"]["method"]}))
"""


def test_the_wheel_installs_into_a_fresh_venv_and_runs_without_the_source_tree(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("ssl_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ssl_bench/bench/result.schema.json" in names and "ssl_bench/methods/simclr.py" in names
    assert not any(name.startswith("tests/") for name in names)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   capture_output=True)

    def run(*argv: str) -> str:
        done = subprocess.run(list(argv), cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "ssl-bench" in run(str(env_dir / "bin" / "ssl-bench"), "--help")
    assert "fashion-mnist" in run(str(python), "-m", "ssl_bench", "datasets")
    assert json.loads(run(str(env_dir / "bin" / "ssl-bench"), "runs", "import", "--schema"))["title"].startswith(
        "ssl-bench result document")
    found = json.loads(run(str(python), "-c", API_EXAMPLE).strip().splitlines()[-1])
    assert found["file"].startswith(str(env_dir)) and found["method"] == "from-wheel" and 0 <= found["knn_top1"] <= 1
