"""The Python API (ssl_bench.api): evaluate_encoder leaves the encoder as it was and scores it as ``eval --encoder``
does; results recorded by hand, added from a run directory or imported from a document reach the store and the
board; the result documents and the published JSON Schema agree."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
import torch
from torch import nn

import ssl_bench
from ssl_bench.api import evaluate_encoder, import_result, open_store, record_result
from ssl_bench.bench.results import SCHEMA, check_document, read_document, result_document
from ssl_bench.bench.store import RunCell
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.models.backbones import build_backbone


def test_every_api_name_is_exported_from_the_package():
    assert sorted(ssl_bench.API) == sorted(ssl_bench.api.__all__)
    assert all(callable(getattr(ssl_bench, name)) for name in ssl_bench.API)


def _convnet_in_training_mode() -> nn.Module:
    network, _ = build_backbone("convnet", 1, 16)
    return network.train()


def test_evaluate_encoder_scores_uint8_images_and_gives_the_encoder_back_unchanged(tmp_path):
    encoder = _convnet_in_training_mode()
    state = copy.deepcopy(encoder.state_dict())
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in encoder.modules())
    result = evaluate_encoder(encoder, "synthetic", name="convnet-random", evaluations=["knn", "linear"])
    assert all(module.training for module in encoder.modules())
    assert state.keys() == encoder.state_dict().keys()
    assert all(torch.equal(state[key], value) for key, value in encoder.state_dict().items())  # BN buffers included
    # the same weights through `ssl-bench eval --encoder` (a state dict on disk): the very same numbers
    torch.save(state, tmp_path / "convnet.pt")
    reference = ssl_bench.evaluate_pretrained("convnet", str(tmp_path / "convnet.pt"), "synthetic")
    for key in ("knn_top1", "knn_top1_k20", "linear_top1"):
        assert result[key] == reference[key]
    assert result["protocol"]["normalization"] == "dataset" and result["protocol"]["method"] == "convnet-random"


def test_evaluate_encoder_takes_a_method_of_a_module_and_refuses_a_bare_function():
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = _convnet_in_training_mode()

        def features(self, images: torch.Tensor) -> torch.Tensor:
            assert not self.backbone.training  # the owner was put in eval mode for the duration
            return self.backbone(images)

    model = Model().train()
    result = evaluate_encoder(model.features, "synthetic", subset=200, evaluations=["knn"])
    assert 0 <= result["knn_top1"] <= 1 and model.training
    with pytest.raises(UserError, match="needs an nn.Module"):
        evaluate_encoder(lambda images: images.flatten(1).float(), "synthetic", evaluations=["knn"])


def test_grey_images_are_replicated_for_a_three_channel_encoder():
    network, _ = build_backbone("convnet", 3, 16)
    result = evaluate_encoder(network, "synthetic", subset=200, channels=3, evaluations=["knn"])
    assert result["protocol"]["normalization_mean"] == pytest.approx([0.138379], abs=1e-3)
    with pytest.raises(UserError, match="takes 2 channels"):
        evaluate_encoder(network, "synthetic", subset=200, channels=2, evaluations=["knn"])


def _document(**cell_changes) -> dict:
    result = ssl_bench.evaluate_baseline("raw-pixels", "synthetic", subset=200, evaluations=["knn"])
    cell = RunCell("elsewhere", "baseline", "raw-pixels", "synthetic", backbone="pixels",
                   hparams={"subset": 200}, **cell_changes)
    return result_document(cell, result, tool="another tool 1.0", source="features.npy")


def test_a_result_document_fits_the_published_schema_and_is_imported_with_its_provenance(tmp_path, capsys):
    document = _document()
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(json.dumps(document)), schema)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(document))
    store = tmp_path / "store.sqlite"
    assert main(["runs", "import", str(path), str(path), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "imported: run" in out and "already stored, kept" in out
    (record,) = open_store(store).runs(suite="elsewhere")
    assert record.metrics["knn_top1"] == document["outcome"]["metrics"]["knn_top1"]
    assert record.protocol["provenance"] == {"tool": "another tool 1.0", "source": "features.npy"}
    assert main(["leaderboard", "--store", str(store), "--suite", "elsewhere", "--out", str(tmp_path / "board")]) == 0
    assert "from another tool 1.0" in (tmp_path / "board" / "leaderboard.md").read_text()
    capsys.readouterr()
    assert main(["runs", "import", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other/2"), "not an ssl-bench result document"),
    (lambda d: d["outcome"]["protocol"].update(dataset="mnist"), "protocol.dataset is 'mnist' but the cell says"),
    (lambda d: d["outcome"]["metrics"].pop("knn_top1_k20"), "metrics of knn are incomplete"),
    (lambda d: d["outcome"]["metrics"].update(knn_top1=81.5), "a fraction in \\[0, 1\\]"),
    (lambda d: d["outcome"]["protocol"].pop("knn"), "protocol.knn is missing"),
    (lambda d: d["cell"].update(kind="nonsense"), "unknown run kind 'nonsense'"),
    (lambda d: d["cell"].update(seed="0"), "cell.seed must be a int"),
    (lambda d: d["outcome"].update(status="failed"), "only finished runs"),
    (lambda d: d["outcome"].pop("host"), "outcome.host is missing"),
])
def test_a_document_that_does_not_describe_its_run_is_refused_in_one_line(change, message):
    document = _document()
    change(document)
    with pytest.raises(UserError, match=message):
        check_document(document, "result.json")


def test_the_schema_refuses_what_it_can_of_the_same_faults():
    schema = json.loads(SCHEMA.read_text())
    for change in (lambda d: d.update(format="other/2"), lambda d: d["cell"].update(seed="0"),
                   lambda d: d["outcome"].update(status="failed"), lambda d: d["outcome"].pop("host"),
                   lambda d: d["cell"].update(extra=1)):
        document = json.loads(json.dumps(_document()))
        change(document)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, schema)


def test_import_of_a_missing_or_corrupt_file_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    for path in (tmp_path / "none.json", tmp_path / "bad.json"):
        assert main(["runs", "import", str(path), "--store", str(tmp_path / "s.sqlite")]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_a_trained_run_reaches_the_board_by_eval_store_runs_add_and_its_outcome(tmp_path, capsys):
    run_dir, store = tmp_path / "run", tmp_path / "store.sqlite"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "200", "--epochs", "1",
                 "--batch-size", "64", "--out", str(run_dir), "--quiet"]) == 0
    assert main(["runs", "add", str(run_dir), "--store", str(store)]) == 2
    assert "run ssl-bench eval" in capsys.readouterr().err  # not evaluated yet: says what to do
    assert main(["eval", str(run_dir), "--evaluations", "knn", "--store", str(store), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    (record,) = open_store(store).runs(suite="manual")
    assert (record.kind, record.method, record.epochs, record.hparams) == ("trained", "simclr", 1,
                                                                             {"subset": 200, "batch_size": 64})
    assert record.metrics["knn_top1"] == result["knn_top1"] and len(record.epoch_metrics) == 1
    assert main(["runs", "add", str(run_dir), "--store", str(store)]) == 2  # kept, said in one line
    assert "already in suite 'manual'" in capsys.readouterr().err
    assert main(["runs", "add", str(run_dir), "--store", str(store), "--suite", "mine"]) == 0
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "synthetic", "--suite", "x"]) == 2
    assert "--suite names the board" in capsys.readouterr().err


def test_record_result_and_a_suite_cells_outcome_file_reach_another_store_with_the_same_numbers(tmp_path):
    network, _ = build_backbone("mlp", 1, 16)
    result = evaluate_encoder(network, "synthetic", name="mlp-random", subset=200, evaluations=["knn"])
    run_id = record_result(result, tmp_path / "a.sqlite", suite="mine")
    (record,) = open_store(tmp_path / "a.sqlite").runs()
    assert record.run_id == run_id and record.kind == "encoder" and record.metrics["knn_top1"] == result["knn_top1"]
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: tiny\ndatasets: [synthetic]\nsubset: 200\nseeds: [0]\nevaluations: [knn]\n"
                     "baselines:\n  methods: [raw-pixels]\n")
    assert main(["suite", "run", str(suite), "--store", str(tmp_path / "b.sqlite"), "--runs-dir",
                 str(tmp_path / "runs"), "--no-leaderboard", "--quiet"]) == 0
    (outcome_file,) = (tmp_path / "runs").rglob("outcome.json")
    assert import_result(outcome_file, tmp_path / "c.sqlite")[1]
    (original,) = open_store(tmp_path / "b.sqlite").runs()
    (imported,) = open_store(tmp_path / "c.sqlite").runs()
    assert imported.run_id == original.run_id and imported.metrics == original.metrics
    assert read_document(outcome_file)["provenance"]["tool"] == "ssl-bench suite"
