"""Bad input as classes, generated from the parsers: every option of every command (read from ``build_parser``),
crossed with the classes of bad input it can meet, each class a Hypothesis strategy.

The classes: ``syntax`` (truncated, mistyped, nested or empty literals), ``extreme`` (numbers valid in form but at
or past the edges: 0, negatives, huge, inf, nan), ``path`` (missing, a file where a folder is expected and the
reverse, unwritable, a full disk, names that leave their root; every one of them for every path option) and ``switch`` (a flag given in a mode it may not
apply to). An option meets the classes its declaration allows (:func:`classes_of`); an option none applies to
fails the test, and the number of (option, class) pairs is pinned, so a new option without coverage fails CI.

The contract, for every drawn value: exit 0, or exit 2 with exactly one ``error:`` line, last, and no traceback;
no child process left; nothing written outside the test's folder (the command runs from an empty folder inside it). Derandomized (the
same cases every run); ``SSL_BENCH_HYPOTHESIS_EXAMPLES`` runs more, at random.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssl_bench.bench.store import ResultStore, RunCell
from ssl_bench.cli import build_parser, main
from ssl_bench.training.config import make_config
from ssl_bench.training.loop import train

EXAMPLES = int(os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES", "2"))
CASES = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("SSL_BENCH_HYPOTHESIS_EXAMPLES"),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# Pinned: the (command option, class) pairs the generated cases reach. A new option changes it; update it once the
# option's classes are right (classes_of), never to make a failure pass.
EXPECTED_PAIRS = 214
SECONDS_PER_CASE = 20.0

SYNTAX = st.one_of(st.sampled_from(["", " ", "[", "[0.2,", "{a: [1", "1,,2", "x=1=2", "=", "nan", "1e", "0x1F", "'",
                                    "é", "a b", "[[1, 2], [3]]", "{}", "-"]),
                   st.text(max_size=6).filter(lambda s: "\x00" not in s))
EXTREME = st.sampled_from(["0", "-1", "-0", "1e308", "1e-308", "inf", "-inf", "nan", "2147483648", "9" * 30, "1e12",
                           "0.0000001"])
PATHS = ("missing/dir/file", "{file}/below", "{dir}", "/proc/ssl-bench-unwritable/x", "/dev/full", "../../escape/x",
         "{empty_file}")
KEYS = {"--param": ["projector_dims", "temperature", "nope"], "--augment": ["crop_scale", "flip_p", "global_views", "x"]}
PATH_METAVARS = {"PATH", "FILE", "DIR", "RUN_DIR"}


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) for every leaf command (``runs list``, ``suite``, ``train``, ...)."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers and path:
        yield path, parser
    for action in subparsers:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def _name(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest


def classes_of(action: argparse.Action) -> tuple[str, ...]:
    """The classes of bad input an option can meet, from its declaration."""
    if action.nargs == 0:  # a switch: given where it may not apply
        return ("switch",)
    kind = getattr(action.type, "__name__", None)
    if str(action.metavar) in PATH_METAVARS or kind == "Path" or action.dest in ("out", "site", "leaderboard", "runs_dir"):
        return ("path", "syntax")
    if kind in ("int", "float", "_key_value"):
        return ("syntax", "extreme")
    return ("syntax",)


COMMANDS = dict(_commands(build_parser()))
PAIRS = [(command, _name(action), cls) for command, parser in COMMANDS.items() for action in _options(parser)
         for cls in classes_of(action)]


def test_every_option_of_every_command_meets_a_class_and_the_count_is_pinned():
    options = {(command, _name(a)) for command, parser in COMMANDS.items() for a in _options(parser)}
    assert options == {(command, option) for command, option, _ in PAIRS}
    assert len(PAIRS) == EXPECTED_PAIRS, f"{len(PAIRS)} (option, class) pairs now: check classes_of, then pin it"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny trained run, a store with two methods x two seeds, a suite file, and files and folders to misuse."""
    root = tmp_path_factory.mktemp("world")
    run = train(make_config({"method": "simclr", "dataset": "synthetic", "backbone": "mlp", "epochs": 1,
                             "batch_size": 32, "subset": 64, "device": "cpu", "out": str(root / "run"),
                             "method_params": {"projector_dims": [16, 8]}, "trackers": []}), progress=False)
    store = root / "results.sqlite"
    with ResultStore(store) as results:
        for method, base in (("simclr", 0.80), ("vicreg", 0.82)):
            for seed in (0, 1):
                run_id = results.start_run(RunCell("s", "trained", method, "synthetic", backbone="mlp", seed=seed))
                results.finish_run(run_id, {"knn_top1": base + 0.01 * seed, "linear_top1": base,
                                            "rankme": 10 * base + seed})
    suite = root / "suite.yaml"
    suite.write_text("name: s\ndatasets: [synthetic]\nsubset: 100\nevaluations: [knn]\n"
                     "spectral:\n  methods: [laplacian-eigenmaps]\n  dim: 4\n")
    return {"root": root, "run": run, "store": store, "suite": suite}


def _base(command: tuple[str, ...], world: dict[str, Path], out: Path) -> list[str]:
    """A quick, valid invocation of ``command`` in ``world`` (its outputs under ``out``)."""
    run, store, suite = str(world["run"]), str(world["store"]), str(world["suite"])
    bases = {
        ("train",): ["--method", "simclr", "--dataset", "synthetic", "--backbone", "mlp", "--subset", "64",
                     "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--out", str(out / "run"), "--quiet",
                     "--param", "projector_dims=[16,8]", "--trackers", ""],
        ("eval",): [run, "--evaluations", "knn", "--device", "cpu", "--store", str(out / "s.sqlite")],
        ("probe",): [run, "--transforms", "hflip", "--n", "20", "--device", "cpu", "--out", str(out / "p.json")],
        ("spectral",): ["--method", "laplacian-eigenmaps", "--dataset", "synthetic", "--subset", "100", "--dim", "4",
                        "--evaluations", "knn"],
        ("compare",): ["--store", store, "--methods", "simclr", "vicreg"],
        ("leaderboard",): ["--store", store, "--suite", "s", "--out", str(out / "board")],
        ("runs", "list"): ["--store", store],
        ("runs", "show"): ["1", "--store", store],
        ("runs", "export"): ["--format", "csv", "--store", store, "--out", str(out / "runs.csv")],
        ("runs", "add"): [run, "--store", str(out / "s.sqlite")],
        ("runs", "import"): [str(world["root"] / "empty"), "--store", str(out / "s.sqlite")],
        ("suite",): ["run", suite, "--dry-run", "--store", str(out / "s.sqlite"), "--runs-dir", str(out / "runs")],
        ("datasets",): [],
        ("predictivity",): ["--store", store, "--resamples", "20"],
    }
    return [*command, *bases[command]]


def _with(argv: list[str], command: tuple[str, ...], action: argparse.Action, value: str | None) -> list[str]:
    """``argv`` with ``action`` set to ``value`` (replacing the base's own value) or, for a switch, given."""
    argv = list(argv)
    if not action.option_strings:  # a positional: the n-th item after the command
        positions = [a for a in _options(COMMANDS[command]) if not a.option_strings]
        index = len(command) + positions.index(action)
        if index < len(argv) and not argv[index].startswith("--"):
            argv[index] = value
        else:
            argv.insert(len(command), value)
        return argv
    for flag in action.option_strings:
        if flag in argv:
            start = argv.index(flag)
            end = start + 1
            while end < len(argv) and not argv[end].startswith("--"):
                end += 1
            del argv[start:end]
    if action.nargs == 0:
        return [*argv, action.option_strings[0]]
    return [*argv, action.option_strings[0], value]


def _values(cls: str, option: str, data: st.DataObject, out: Path) -> list[str | None]:
    """Values of class ``cls`` for ``option``: one drawn from the class's strategy, or, for paths, every kind of
    bad path (a text file, a folder and an empty file made in ``out`` for this case alone, so a case that
    overwrites one cannot change another's)."""
    if cls == "switch":
        return [None]
    if cls == "path":
        (out / "a_file").write_text("not a folder\n")
        (out / "empty").touch()
        (out / "a_dir").mkdir()
        return [template.format(file=out / "a_file", dir=out / "a_dir", empty_file=out / "empty") for template in PATHS]
    text = data.draw(SYNTAX if cls == "syntax" else EXTREME)
    if option in KEYS:
        return [f"{data.draw(st.sampled_from(KEYS[option]))}={text}"]
    return [text]


class _TookTooLong(KeyboardInterrupt):
    """What the alarm raises inside a command that is still working after :data:`SECONDS_PER_CASE`."""


def _interrupt(signum: int, frame: object) -> None:
    raise _TookTooLong


def _children() -> set[int]:
    """The live child processes of this process (Linux /proc): none may outlive a command."""
    found = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            found |= {int(pid) for pid in (task / "children").read_text().split()}
    alive = set()
    for pid in found:
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.add(pid)
    return alive


def _contract(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    """Exit 0, or 2 with one last ``error:`` line; a command still working after SECONDS_PER_CASE (e.g. a valid
    but huge number of epochs) is interrupted as Ctrl-C would, and must stop as cleanly (exit 130, one line)."""
    earlier = _children()  # left by other tests (a random order may run them first): not this command's
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_CASE)
    try:
        code = main(argv)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    assert not _children() - earlier, (argv, _children() - earlier)
    assert code in (0, 2, 130), (argv, code, err[-800:])
    assert "Traceback" not in err, (argv, err[-800:])
    if code in (2, 130):
        errors = [line for line in err.split("\n") if line.startswith("error: ")]  # as a terminal shows it
        assert len(errors) == 1 and err.rstrip().endswith(errors[0]), (argv, err[-800:])


@pytest.mark.parametrize(("command", "option", "cls"), PAIRS, ids=[f"{' '.join(c)}:{o}:{k}" for c, o, k in PAIRS])
@CASES
@given(data=st.data())
def test_any_bad_value_is_a_result_or_one_line(world, tmp_path_factory, monkeypatch, capsys, command, option, cls, data):
    action = next(a for a in _options(COMMANDS[command]) if _name(a) == option)
    out = tmp_path_factory.mktemp("out")
    cwd = out / "cwd" / "inner"  # relative outputs (and ../ escapes) land inside the test's folder
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SSL_BENCH_STORE", str(out / "default.sqlite"))
    for value in _values(cls, option, data, out):
        _contract(_with(_base(command, world, out), command, action, value), capsys)


# Flags a mode ignores (class 4): commands with modes declare where each flag acts (MODES, APPLIES); every flag
# given in every other mode must be refused in one line.
MODE_COMMANDS = {"eval": "ssl_bench.commands.eval", "probe": "ssl_bench.commands.probe",
                 "suite": "ssl_bench.commands.suite", "compare": "ssl_bench.commands.compare"}
MODE_VALUES = {"features": "projector", "dataset": "synthetic", "backbone": "mlp", "subset": "100", "seed": "1",
               "download": None, "dim": "4", "store": "s.sqlite", "runs_dir": "runs", "device": "cpu",
               "dry_run": None, "wait": None, "leaderboard": "board", "no_leaderboard": None, "json": None,
               "quiet": None, "launcher": "local", "parallel": "1", "gpus_per_cell": "0", "nodes": "1",
               "tasks_per_node": "1", "cpus_per_cell": "1", "mem_gb": "1", "time_min": "1", "partition": "p",
               "account": "a", "qos": "q", "constraint": "c", "over_seeds": None, "suite": "s", "kind": "trained"}
EXPECTED_MODE_PAIRS = 100


def _mode_pairs() -> list[tuple[str, str, str]]:
    import importlib

    pairs = []
    for command, module_name in MODE_COMMANDS.items():
        module = importlib.import_module(module_name)
        pairs += [(command, name, mode) for name, where in module.APPLIES.items() for mode in module.MODES
                  if mode not in where]
    return pairs


MODE_PAIRS = _mode_pairs()


def _mode_base(command: str, mode: str, world: dict[str, Path], out: Path) -> list[str]:
    if command == "compare":
        return ["compare", *(["a1", "b2"] if mode == "runs" else ["--methods", "simclr", "vicreg"]),
                "--store", str(world["store"])]
    if command == "suite":
        action, dry = ("run", ["--dry-run"]) if mode == "dry-run" else (mode, [])
        return ["suite", action, str(world["suite"]), *dry]
    base = {"run": [str(world["run"])],
            "baseline": ["--baseline", "raw-pixels", "--dataset", "synthetic", "--subset", "100"],
            "spectral": ["--spectral", "laplacian-eigenmaps", "--dataset", "synthetic", "--subset", "100"],
            "encoder": ["--encoder", "torchvision:resnet18", "--weights", str(out / "weights.pth")]}[mode]
    return [command, *base, "--device", "cpu"]


def test_the_mode_declarations_are_pinned():
    assert len(MODE_PAIRS) == EXPECTED_MODE_PAIRS
    assert {name for _, name, _ in MODE_PAIRS} <= set(MODE_VALUES)


@pytest.mark.parametrize(("command", "name", "mode"), MODE_PAIRS, ids=[f"{c}:{n}:{m}" for c, n, m in MODE_PAIRS])
def test_a_flag_given_in_a_mode_that_ignores_it_is_refused(world, tmp_path, capsys, command, name, mode):
    flag = "--" + name.replace("_", "-")
    value = MODE_VALUES[name]
    argv = [*_mode_base(command, mode, world, tmp_path), flag, *([] if value is None else [value])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {flag} applies to ") and "drop it" in err, err


# Settings that act only for some spectral methods or graphs (class 4): given, each is either recorded in the
# row's protocol with the value given (it acted) or refused in one line naming it; never silently dropped.
SPECTRAL_GIVEN = [(("--n-views", "6"), {"n_views": 6}), (("--n-neighbors", "7"), {"n_neighbors": 7}),
                  (("--n-landmarks", "30"), {"n_landmarks": 30}), (("--reg", "0.05"), {"reg": 0.05}),
                  (("--graph", "labels"), {"graph": "labels"}),
                  (("--graph", "views", "--n-views", "6"), {"graph": "views", "n_views": 6}),
                  (("--augment-recipe", "byol"), {"augment_recipe": "byol"}),
                  (("--graph", "views", "--augment", "crop_scale=[0.5,1.0]"),
                   {"graph": "views", "augment": {"crop_scale": [0.5, 1.0]}})]


@pytest.mark.parametrize("method", sorted(__import__("ssl_bench.spectral", fromlist=["x"]).SPECTRAL_METHODS.names()))
def test_a_spectral_setting_given_either_acts_or_is_refused(tmp_path, monkeypatch, capsys, method):
    import json

    monkeypatch.chdir(tmp_path)
    for flags, recorded in SPECTRAL_GIVEN:
        code = main(["spectral", "--method", method, "--dataset", "synthetic", "--subset", "60", "--dim", "4",
                     "--evaluations", "knn", "--json", *flags])
        out, err = capsys.readouterr()
        if code == 0:
            protocol = json.loads(out)["protocol"]
            assert {key: protocol.get(key) for key in recorded} == recorded, (method, flags, protocol)
        else:
            named = any(key in err or "--" + key.replace("_", "-") in err for key in recorded)
            assert code == 2 and err.count("\n") == 1 and named, (method, flags, err)


TRAIN_MODES = [(["--data-loading", "memory", "--workers", "2"], "--workers"),
               (["--sync-batchnorm"], "--sync-batchnorm")]  # pytest runs one process: no torchrun


@pytest.mark.parametrize(("flags", "flag"), TRAIN_MODES, ids=[flag for _, flag in TRAIN_MODES])
def test_a_train_flag_its_way_of_running_ignores_is_refused(world, tmp_path, capsys, flags, flag):
    argv = _base(("train",), world, tmp_path)
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {flag} applies to ") and "drop it" in err, err
    assert not (tmp_path / "run").exists()


# Faults inside workers (class 6): an error raised in a DataLoader worker or in a suite's cell reaches the user as
# one line naming the file or the cell, not as the worker's traceback. (Forked row workers:
# tests/test_forked_rows.py.)
@pytest.fixture(scope="module")
def corrupt_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("corrupt")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            for i in range(16):
                Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / split / name / f"{i}.png")
    (root / "train" / "b" / "5.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    return root


def test_an_error_in_a_dataloader_worker_is_one_line_naming_the_file(corrupt_folder, tmp_path, capsys):
    earlier = _children()
    argv = ["train", "--method", "simclr", "--dataset", f"imagefolder:{corrupt_folder}", "--backbone", "mlp",
            "--epochs", "1", "--batch-size", "8", "--data-loading", "stream", "--workers", "1", "--quiet",
            "--trackers", "", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"cannot decode image {corrupt_folder / 'train' / 'b' / '5.png'}" in err and "DataLoader worker" in err, err
    assert not (tmp_path / "run").exists()
    assert not _children() - earlier


def test_a_cell_that_fails_in_its_worker_is_one_line_naming_the_cell(corrupt_folder, tmp_path, monkeypatch, capsys):
    suite = tmp_path / "bad.yaml"
    suite.write_text(f"name: bad\ndatasets: ['imagefolder:{corrupt_folder}']\nevaluations: [knn]\ntrained:\n"
                     "  - methods: [simclr]\n    backbones: [mlp]\n    epochs: 1\n    batch_size: 8\n"
                     "    data_loading: stream\n    workers: 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["suite", "run", str(suite), "--store", "s.sqlite", "--runs-dir", "runs", "--no-leaderboard"]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "Traceback" not in err, err
    assert f"trained:simclr/mlp on imagefolder:{corrupt_folder} seed 0" in failed[0] and "5.png" in failed[0], err


# State that does not fit the request (class 5): a subset too small for an evaluation is refused when the suite is
# read, before any cell trains (the later step must not be the one that fails). The evaluations that read no label
# are listed by hand: a new evaluation that needs labels and does not refuse too few of them fails this test.
LABEL_FREE = {"rankme", "alpha-req", "lidar", "probe"}
OWN_LABELS = {"transfer": "transfer: {dataset: synthetic}\n"}  # labels of another dataset, given whole here


@pytest.mark.parametrize("evaluation", sorted(__import__("ssl_bench.eval.base", fromlist=["x"]).EVALUATIONS.names()))
def test_every_evaluation_that_reads_labels_refuses_too_few_before_training(tmp_path, monkeypatch, capsys, evaluation):
    suite = tmp_path / "small.yaml"
    suite.write_text(f"name: small\ndatasets: [synthetic]\nsubset: 8\nevaluations: [{evaluation}]\ntrained:\n"
                     "  - methods: [simclr]\n    backbones: [mlp]\n    epochs: 1\n    batch_size: 4\n"
                     + OWN_LABELS.get(evaluation, ""))
    monkeypatch.chdir(tmp_path)
    code = main(["suite", "run", str(suite), "--dry-run", "--store", "s.sqlite", "--runs-dir", "runs"])
    err = capsys.readouterr().err
    if evaluation in LABEL_FREE or evaluation in OWN_LABELS:
        assert code == 0, err
    else:
        assert code == 2 and err.count("\n") == 1 and f"drop {evaluation}" in err and "8" in err, err
    assert not (tmp_path / "runs").exists()


TRANSFER_IMPOSSIBLE = [("{}", "needs the dataset"), ("{dataset: cifar10}", "channels: grey"),
                       ("{dataset: fashion-mnist}", "resize: true"), ("{dataset: synthetic, channels: sepia}", "sepia"),
                       ("{dataset: synthetic, subset: 5}", "5 rows for 10 classes")]


@pytest.mark.parametrize(("settings", "says"), TRANSFER_IMPOSSIBLE, ids=[s for s, _ in TRANSFER_IMPOSSIBLE])
def test_impossible_transfer_settings_are_refused_before_training(tmp_path, monkeypatch, capsys, settings, says):
    suite = tmp_path / "t.yaml"
    suite.write_text("name: t\ndatasets: [synthetic]\nevaluations: [transfer]\ntrained:\n  - methods: [simclr]\n"
                     f"    backbones: [mlp]\n    epochs: 1\ntransfer: {settings}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["suite", "run", str(suite), "--dry-run", "--store", "s.sqlite", "--runs-dir", "runs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


# State that does not fit the request (class 5), generated: every state a run directory or a results store can be
# in, crossed with every command that reads one. Contract: exit 0 with a result (or, for a finished run given to
# --resume, a note), or exit 2 with one line and the run directory left as it was.
def _run_states(run: Path, root: Path) -> dict[str, Path]:
    import json
    import shutil

    states = {"missing": root / "missing", "empty folder": root / "empty-run", "a file": root / "a-file"}
    states["empty folder"].mkdir()
    states["a file"].write_text("x")
    for name, damage in (("no checkpoint", "checkpoint.pt"), ("corrupt checkpoint", "checkpoint.pt"),
                         ("no data record", "data.json"), ("corrupt config", "config.json"),
                         ("newer version", "config.json"), ("finished", None)):
        copy = root / name.replace(" ", "-")
        shutil.copytree(run, copy)
        if name.startswith("no "):
            (copy / damage).unlink()
        elif name.startswith("corrupt"):
            (copy / damage).write_bytes(b"\x00garbage{")
        elif name == "newer version":
            config = json.loads((copy / "config.json").read_text())
            (copy / "config.json").write_text(json.dumps({**config, "package_version": "99.0",
                                                          "a_setting_from_the_future": 1}))
        states[name] = copy
    return states


RUN_STATES = ("missing", "empty folder", "a file", "no checkpoint", "corrupt checkpoint", "no data record",
              "corrupt config", "newer version", "finished")


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny finished run that no test evaluates (the world's run gains evaluations as other tests run)."""
    return train(make_config({"method": "simclr", "dataset": "synthetic", "backbone": "mlp", "epochs": 1,
                              "batch_size": 32, "subset": 64, "device": "cpu",
                              "out": str(tmp_path_factory.mktemp("state") / "run"),
                              "method_params": {"projector_dims": [16, 8]}, "trackers": []}), progress=False)


@pytest.mark.parametrize("state", RUN_STATES)
@pytest.mark.parametrize("command", ["train --resume", "eval", "probe", "runs add"])
def test_a_run_directory_in_any_state_is_a_result_or_one_line(trained_run, tmp_path, monkeypatch, capsys, command,
                                                               state):
    run = _run_states(trained_run, tmp_path)[state]
    monkeypatch.chdir(tmp_path)
    argv = {"train --resume": ["train", "--resume", "--out", str(run), "--quiet"],
            "eval": ["eval", str(run), "--evaluations", "knn", "--device", "cpu", "--store", "s.sqlite"],
            "probe": ["probe", str(run), "--transforms", "hflip", "--n", "20", "--device", "cpu", "--out", "p.json"],
            "runs add": ["runs", "add", str(run), "--store", "s.sqlite"]}[command]
    before = _snapshot(run) if run.exists() else None
    code = main(argv)
    out, err = capsys.readouterr()
    notes = {("train --resume", "finished"): "nothing to resume", ("train --resume", "no data record"): "nothing to resume",
             ("train --resume", "no checkpoint"): "training from the first epoch"}
    if (command, state) in notes or (state == "finished" and command in ("eval", "probe")):
        assert code == 0 and notes.get((command, state), "") in err, (code, err)
    else:
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, (code, err)
    if state == "newer version":
        assert "newer than this one" in err, err
    if (command, state) == ("train --resume", "no checkpoint"):
        assert (run / "checkpoint.pt").is_file()  # it trained
    elif (command, state) == ("train --resume", "no data record"):
        assert (run / "data.json").read_bytes() == (trained_run / "data.json").read_bytes()  # written again
        assert (run / "checkpoint.pt").read_bytes() == before["checkpoint.pt"]
    elif code == 2:  # refused: nothing written (a successful eval or probe writes its results into the run)
        assert (_snapshot(run) if run.exists() else None) == before


STORE_STATES = ("missing", "a folder", "not sqlite", "another sqlite file", "newer schema")


def _store_state(state: str, root: Path) -> Path:
    import sqlite3

    path = root / "results.sqlite"
    if state == "a folder":
        path.mkdir()
    elif state == "not sqlite":
        path.write_text("these are not the results you are looking for\n")
    elif state in ("another sqlite file", "newer schema"):
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (text TEXT)")
            if state == "newer schema":
                conn.execute("PRAGMA user_version = 99")
        conn.close()
    return path


@pytest.mark.parametrize("state", STORE_STATES)
@pytest.mark.parametrize("command", ["runs list", "runs export", "compare", "leaderboard", "predictivity"])
def test_a_store_in_any_state_is_a_result_or_one_line(tmp_path, monkeypatch, capsys, command, state):
    store = _store_state(state, tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = {"runs list": ["runs", "list"], "runs export": ["runs", "export", "--format", "csv", "--out", "r.csv"],
            "compare": ["compare", "--methods", "simclr", "vicreg"], "leaderboard": ["leaderboard", "--out", "board"],
            "predictivity": ["predictivity"]}[command]
    before = _snapshot(store) if store.exists() else None
    code = main([*argv, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, (code, err)
    assert (_snapshot(store) if store.exists() else None) == before
    assert not any(p.name in ("r.csv", "board") for p in tmp_path.iterdir())
    if state == "newer schema":
        assert "newer than" in err, err
