"""Atomic writes: the file is either the old or the new version, and a killed writer's temporary file does not
stay behind for ever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from ssl_bench.core.checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from ssl_bench.core.errors import UserError


def test_leftover_temporary_files_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "metrics.json"
    leftover = tmp_path / ".metrics.json.abc123.tmp"
    other = tmp_path / ".config.json.abc123.tmp"  # another file's temporary file is not ours to remove
    leftover.write_text("half")
    other.write_text("half")
    atomic_write_json(target, {"epoch": 1})
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert not leftover.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config.json.abc123.tmp", "metrics.json"]


def test_a_writer_killed_mid_checkpoint_leaves_the_old_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.zeros(3)})
    script = (  # writes a large checkpoint slowly; killed in the middle of the write
        "import sys, time, torch\n"
        "from pathlib import Path\n"
        "from ssl_bench.core.checkpoint import atomic_write_bytes\n"
        "def slow(file):\n"
        "    file.write(b'x' * 1000); file.flush(); print('writing', flush=True); time.sleep(60)\n"
        "atomic_write_bytes(Path(sys.argv[1]), slow)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE)
    assert writer.stdout.readline().strip() == b"writing"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert list(tmp_path.glob(".checkpoint.pt.*.tmp")), "the killed writer left its temporary file"
    assert load_checkpoint(path)["epoch"] == 1  # the previous checkpoint survived
    save_checkpoint(path, {"epoch": 2, "weights": torch.ones(3)})
    assert load_checkpoint(path)["epoch"] == 2 and not list(tmp_path.glob(".checkpoint.pt.*.tmp"))


def test_a_truncated_checkpoint_is_one_clear_line(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(UserError, match="corrupt or unreadable"):
        load_checkpoint(path)
