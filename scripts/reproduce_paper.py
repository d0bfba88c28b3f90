"""Reproduce Balestriero & LeCun (NeurIPS 2022): the closed forms verified numerically, and the practical claims.

Part 1, ``closed-forms``: every experiment of :mod:`ssl_bench.spectral.verification` (gradient descent on the
training losses against the closed forms, several random starts, float64), written one JSON row per claim with its
regime, objective gap, largest principal angle and ranks to ``leaderboards/paper/closed_forms.json``.

Part 2, the practical claims of the abstract on Fashion-MNIST, in the linear regime Z = X W on fixed features X (a
frozen randomly initialised ``convnet``, 128 dims, whitened on the training images: a network that does not
depend on the data, so the low-data runs differ only in the data). W (F, K) is trained by minibatch Adam on the
real graph losses (:func:`ssl_bench.spectral.linear_training.train_linear_map`) and also computed by the closed
forms; every embedding is scored on the whole test split by kNN (k = 200 and 20, cosine, T = 0.1) and the linear
probe of :mod:`ssl_bench.eval`.

- ``aligned``: G = the label graph of 2,000 training images, K = 9 = C - 1. Each loss against LDA (scikit-learn):
  largest / mean principal angle between the train embeddings' column spaces, rank, test accuracy, and the loss
  (full batch) at the found W next to its minimum over W_LDA R (R free): is the supervised solution the loss's
  optimum, and does gradient descent find it?
- ``low-data``: N' = 100 and 1,000 images, 4 SimCLR-augmented views each, G = the views graph, K = 16: VICReg's
  invariance weight swept (variance 25, covariance 1; closed form of the strong-decorrelation limit beside it),
  SimCLR and BarlowTwins at their defaults. Mean over ``--seeds`` (default 0 and 1: subset, views, network, start).
- ``misaligned``: N' = 2,000 images, 2 views; G = the views graph with a fraction p in {0, 0.5, 0.8} of the pairs
  rewired to a random other image, and G = the 10-NN graph of the images' mean brightness (a nuisance); the five
  losses of (i) and the three closed forms. Which loses least accuracy, under both readings of the abstract:
  NeurIPS ("BarlowTwins or VICReg with a small invariance weight") and arXiv v3 ("VICReg with a small invariance
  weight over SimCLR or BarlowTwins"). Mean over ``--seeds``.

Writes ``practical.json``, ``practical.md`` and ``practical.png`` beside ``closed_forms.json``. About 10 minutes
on 2 loaded CPU cores:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/reproduce_paper.py
    OMP_NUM_THREADS=1 .venv/bin/python scripts/reproduce_paper.py --only aligned,misaligned
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch

from ssl_bench.data.datasets import ImageDataset, balanced_subset, load_dataset
from ssl_bench.data.graph import knn_graph, label_graph, views_graph
from ssl_bench.eval import FeatureSplits, evaluate_features
from ssl_bench.methods.losses import barlow_twins_graph_loss, simclr_graph_loss, vicreg_graph_loss
from ssl_bench.spectral import BarlowTwinsClosedForm, SimCLRClosedForm, VICRegClosedForm
from ssl_bench.spectral.closed_forms import centred_laplacian_eigenpairs
from ssl_bench.spectral.feature_maps import feature_map
from ssl_bench.spectral.linear_training import LOSSES, loss_defaults, train_linear_map
from ssl_bench.spectral.verification import (
    minimise,
    numerical_rank,
    synthetic_graphs,
    verify_barlow_twins_linear,
    verify_simclr,
    verify_simclr_linear,
    verify_vicreg_hard,
    verify_vicreg_hard_linear,
    verify_vicreg_soft,
)
from ssl_bench.spectral.view_moments import augmented_views

PARTS = ("closed-forms", "aligned", "low-data", "misaligned")
FEATURES = "random-backbone"
STEPS, BATCH, LR = 2000, 256, 1e-2
GD_METHODS: dict[str, tuple[str, dict[str, float]]] = {
    "SimCLR (tau 0.2)": ("simclr", {}),
    "VICReg (25/25/1, published)": ("vicreg", {}),
    "VICReg (1/25/1, small invariance)": ("vicreg", {"invariance_weight": 1.0}),
    "BarlowTwins (5e-3, published)": ("barlowtwins", {}),
    "BarlowTwins (off-diagonal 1)": ("barlowtwins", {"off_diagonal_weight": 1.0}),
}
INVARIANCE_SWEEP = (1.0, 5.0, 25.0, 100.0)
LOW_DATA_SIZES = (100, 1000)
REWIRED = (0.0, 0.5, 0.8)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- part 1: closed forms
def closed_form_experiments(starts: int) -> dict[str, Callable[[], dict]]:
    graphs, small = synthetic_graphs(50, 2, 5), synthetic_graphs(12, 2, 3)
    richer = graphs["richer"]
    values, _ = centred_laplacian_eigenpairs(richer, 10)
    matched_invariance = 25.0 * richer.sum() / (4 * values[4] * (richer.shape[0] - 1))
    rng = np.random.default_rng(1)
    images = rng.normal(size=(50, 8))
    features = np.vstack([images + 0.3 * rng.normal(size=images.shape) for _ in range(2)])
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 3)) * np.array([2.0, 1.0, 0.5])
    view_a = latent @ rng.normal(size=(3, 6)) + 0.7 * rng.normal(size=(200, 6))
    view_b = latent @ rng.normal(size=(3, 5)) + 0.7 * rng.normal(size=(200, 5))
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(30, 10)) * np.r_[3.0, 2.0, 1.5, np.full(7, 0.5)]
    simclr_views = np.vstack([signal + rng.normal(size=signal.shape) * np.r_[np.full(8, 0.3), 4.0, 4.0] for _ in range(4)])
    return {
        "vicreg_hard_richer_K10": lambda: verify_vicreg_hard(richer, 10, starts),
        "vicreg_hard_views_K10": lambda: verify_vicreg_hard(graphs["views"], 10, starts),
        "vicreg_hard_linear_views_K3": lambda: verify_vicreg_hard_linear(features, graphs["views"], 3, starts),
        "vicreg_soft_cov1e3_richer_K10": lambda: verify_vicreg_soft(richer, 10, matched_invariance, 25.0, 1e3, starts),
        "vicreg_soft_published_25_25_1_richer_K10": lambda: verify_vicreg_soft(richer, 10, 25.0, 25.0, 1.0, starts, adam_steps=3000, lbfgs_rounds=1),
        "vicreg_soft_5_25_1_richer_K10": lambda: verify_vicreg_soft(richer, 10, 5.0, 25.0, 1.0, starts, adam_steps=3000, lbfgs_rounds=1),
        "vicreg_soft_1_25_1_richer_K10": lambda: verify_vicreg_soft(richer, 10, 1.0, 25.0, 1.0, starts, adam_steps=3000, lbfgs_rounds=1),
        "simclr_views_K16_tau0.5": lambda: verify_simclr(small["views"], 12, 2, 16, 0.5, starts),
        "simclr_views_K16_tau0.1": lambda: verify_simclr(small["views"], 12, 2, 16, 0.1, starts),
        "simclr_views_K4_tau0.5": lambda: verify_simclr(small["views"], 12, 2, 4, 0.5, starts),
        "simclr_richer_K16_tau0.5": lambda: verify_simclr(small["richer"], 12, 2, 16, 0.5, starts),
        "simclr_richer_K16_tau0.1": lambda: verify_simclr(small["richer"], 12, 2, 16, 0.1, starts),
        "simclr_linear_views_K3_tau0.5": lambda: verify_simclr_linear(simclr_views, views_graph(30, 4), 3, 0.5, starts),
        "simclr_linear_views_K3_tau0.2": lambda: verify_simclr_linear(simclr_views, views_graph(30, 4), 3, 0.2, starts),
        "barlow_linear_offdiag1_K3": lambda: verify_barlow_twins_linear(view_a, view_b, 3, 1.0, starts, max_iter=1500),
        "barlow_linear_offdiag5e-3_K3": lambda: verify_barlow_twins_linear(view_a, view_b, 3, 5e-3, starts, max_iter=1500),
    }


def run_closed_forms(out_dir: Path, starts: int) -> None:
    rows = {}
    for name, run in closed_form_experiments(starts).items():
        start = time.perf_counter()
        rows[name] = run() | {"seconds": time.perf_counter() - start}
        log(f"{name}: gap {rows[name]['relative_gap']}, angle {rows[name]['max_angle_degrees']:.3g}, rank {rows[name]['rank_found']}")
    protocol = {"dtype": "float64", "optimiser": "L-BFGS (strong Wolfe), Adam first where noted", "starts": starts}
    (out_dir / "closed_forms.json").write_text(json.dumps({"protocol": protocol, "rows": rows}, indent=2, default=float) + "\n")


# ------------------------------------------------------------------------------------------ part 2: shared pieces
class Features:
    """The fixed map X = whiten(phi(images)), phi a frozen random convnet, whitened on the clean train images.

    Whitening, x -> (C + eps I)^{-1/2} (phi(x) - mean) with C the train covariance and eps = 0.1 Tr(C) / F, is an
    invertible linear change of coordinates: the linear maps Z = X W are the same set, LDA is unchanged, and
    gradient descent on W is well conditioned. The ridge eps keeps the directions the few training images do not
    span (N' = 100 < F = 128) from being blown up.
    """

    def __init__(self, train: ImageDataset, seed: int) -> None:
        self.map = feature_map(FEATURES, seed=seed).fit(train.images)
        clean = self.map(train.images).astype(np.float64)
        self.mean = clean.mean(axis=0)
        covariance = np.cov(clean.T)
        values, vectors = np.linalg.eigh(covariance + 0.1 * np.trace(covariance) / covariance.shape[0] * np.eye(covariance.shape[0]))
        self.whitening = vectors / np.sqrt(values)
        self.train = self(train.images)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return (self.map(images).astype(np.float64) - self.mean) @ self.whitening


def score(z_train: np.ndarray, train: ImageDataset, z_test: np.ndarray, test: ImageDataset, seed: int) -> dict[str, float]:
    splits = FeatureSplits(torch.from_numpy(z_train).float(), train.labels, torch.from_numpy(z_test).float(),
                           test.labels, train.num_classes)
    result = evaluate_features(splits, seed=seed)
    return {key: result[key] for key in ("knn_top1", "knn_top1_k20", "linear_top1")}


def label_agreement(graph: sp.spmatrix, labels: np.ndarray) -> float:
    """Fraction of the graph's edges that join two images of one class (1 for the label graph, ~0.1 at chance)."""
    coo = sp.triu(graph, k=1).tocoo()
    return float(np.mean(labels[coo.row] == labels[coo.col]))


def full_batch_loss(loss: str, z: torch.Tensor, graph: torch.Tensor, params: dict[str, float]) -> torch.Tensor:
    """The loss over all rows at once (regularisers over all rows: the paper's graph form)."""
    if loss == "simclr":
        return simclr_graph_loss(z, graph, **params)
    if loss == "vicreg":
        return vicreg_graph_loss(z, graph, None, **params)
    return barlow_twins_graph_loss(z, graph, None, **params)


def closed_form_rows(fit_x: np.ndarray, graph: sp.spmatrix, dim: int, reg: float = 0.1) -> dict[str, Any]:
    """The three closed-form estimators fitted on the graph's rows."""
    return {f"{cls.__name__} (reg {reg})": cls(n_components=dim, reg=reg).fit(fit_x, graph=graph)
            for cls in (VICRegClosedForm, SimCLRClosedForm, BarlowTwinsClosedForm)}


# ------------------------------------------------------------------------------------------------- (i) aligned
def aligned(train: ImageDataset, test: ImageDataset, seed: int) -> list[dict[str, Any]]:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    features = Features(train, seed)
    x, x_test, labels = features.train, features(test.images), train.labels.numpy()
    graph = label_graph(labels)
    dim = train.num_classes - 1
    lda = LinearDiscriminantAnalysis(n_components=dim, solver="eigen").fit(x, labels).scalings_[:, :dim]
    lda_train = x @ lda
    x_t, graph_t = torch.tensor(x), torch.tensor(graph.toarray())
    rows = [{"method": "features (128-d, no map)", **score(x, train, x_test, test, seed)},
            {"method": "LDA (supervised, scikit-learn)", "max_angle_to_lda": 0.0, "rank": dim, **score(lda_train, train, x_test @ lda, test, seed)}]
    for name, model in closed_form_rows(x, graph, dim, reg=0.0).items():
        z = model.transform(x)
        rows.append({"method": f"{name}, label graph", **angles(z, lda_train), "rank": numerical_rank(z), **score(z, train, model.transform(x_test), test, seed)})
    for name, (loss, overrides) in GD_METHODS.items():
        started = time.perf_counter()
        w = train_linear_map(x, graph, loss, dim, overrides, STEPS, BATCH, LR, seed)
        params = {**loss_defaults(loss), **overrides}
        found = float(full_batch_loss(loss, x_t @ torch.tensor(w), graph_t, params))
        _, in_lda = minimise(lambda r, loss=loss, params=params: full_batch_loss(loss, x_t @ torch.tensor(lda) @ r, graph_t, params),
                             torch.eye(dim, dtype=torch.float64) / np.sqrt(np.var(lda_train, axis=0).mean()), adam_steps=300, max_iter=100)
        rows.append({"method": f"{name}, GD, label graph", **angles(x @ w, lda_train), "rank": numerical_rank(x @ w),
                     "full_batch_loss_found": found, "full_batch_loss_min_in_lda_subspace": in_lda,
                     **score(x @ w, train, x_test @ w, test, seed), "seconds": time.perf_counter() - started})
        log(f"aligned: {rows[-1]}")
    return rows


def angles(z: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    import scipy.linalg

    if numerical_rank(z) < reference.shape[1]:
        return {"max_angle_to_lda": 90.0, "mean_angle_to_lda": None}  # rank-deficient: no K-dimensional subspace
    theta = np.degrees(scipy.linalg.subspace_angles(z - z.mean(axis=0), reference - reference.mean(axis=0)))
    return {"max_angle_to_lda": float(theta.max()), "mean_angle_to_lda": float(theta.mean())}


# ------------------------------------------------------------------------------------------------ (ii) low data
def low_data(full_train: ImageDataset, test: ImageDataset, seed: int, n_views: int = 4, dim: int = 16) -> list[dict[str, Any]]:
    rows = []
    for size in LOW_DATA_SIZES:
        train = balanced_subset(full_train, size, seed)
        features = Features(train, seed)
        x, x_test = features.train, features(test.images)
        views = np.concatenate([features(view) for view in augmented_views(train, n_views, seed)])
        graph = views_graph(size, n_views)
        common = {"n_images": size, "n_views": n_views}
        for weight in INVARIANCE_SWEEP:
            w = train_linear_map(views, graph, "vicreg", dim, {"invariance_weight": weight}, STEPS, BATCH, LR, seed)
            rows.append({**common, "method": "VICReg GD", "invariance_weight": weight, "rank": numerical_rank(x @ w), **score(x @ w, train, x_test @ w, test, seed)})
            model = VICRegClosedForm(n_components=dim, reg=0.1, invariance_weight=weight).fit(views, graph=graph)
            z = model.transform(x)
            rows.append({**common, "method": "VICReg closed form (strong decorrelation)", "invariance_weight": weight,
                         "rank": numerical_rank(z), **score(z, train, model.transform(x_test), test, seed)})
            log(f"low data: {rows[-2]}\n          {rows[-1]}")
        for name, loss in (("SimCLR GD", "simclr"), ("BarlowTwins GD", "barlowtwins")):
            w = train_linear_map(views, graph, loss, dim, {}, STEPS, BATCH, LR, seed)
            rows.append({**common, "method": name, "rank": numerical_rank(x @ w), **score(x @ w, train, x_test @ w, test, seed)})
            log(f"low data: {rows[-1]}")
        model = VICRegClosedForm(n_components=dim, reg=0.1).fit(views, graph=graph)
        rows.append({**common, "method": "VICReg closed form (hard constraint)", "rank": dim,
                     **score(model.transform(x), train, model.transform(x_test), test, seed)})
    return rows


# ---------------------------------------------------------------------------------------------- (iii) misaligned
def rewired_views_graph(n_images: int, fraction: float, seed: int) -> sp.csr_matrix:
    """Two views per image (rows v N' + i); view 0 of image i is linked to view 1 of pi(i), where pi(i) = i except
    for a seeded fraction of the images, which get a uniformly random other image."""
    rng = np.random.default_rng(seed)
    partner = np.arange(n_images)
    moved = rng.choice(n_images, size=int(round(fraction * n_images)), replace=False)
    partner[moved] = (moved + rng.integers(1, n_images, size=moved.size)) % n_images
    pairs = sp.csr_matrix((np.ones(n_images), (np.arange(n_images), n_images + partner)), shape=(2 * n_images, 2 * n_images))
    return (pairs + pairs.T).tocsr()


def misaligned(train: ImageDataset, test: ImageDataset, seed: int, dim: int = 16) -> list[dict[str, Any]]:
    features = Features(train, seed)
    x, x_test, labels = features.train, features(test.images), train.labels.numpy()
    views = np.concatenate([features(view) for view in augmented_views(train, 2, seed)])
    brightness = train.images.reshape(len(train), -1).double().mean(dim=1, keepdim=True).numpy()
    settings = [(f"views, {int(100 * p)}% rewired", views, rewired_views_graph(len(train), p, seed), np.tile(labels, 2)) for p in REWIRED]
    settings.append(("10-NN of brightness (nuisance)", x, knn_graph((brightness - brightness.mean()) / brightness.std(), 10), labels))
    methods = GD_METHODS
    rows = []
    for graph_name, fit_x, graph, row_labels in settings:
        common = {"graph": graph_name, "label_agreement": label_agreement(graph, row_labels)}
        for name, (loss, overrides) in methods.items():
            w = train_linear_map(fit_x, graph, loss, dim, overrides, STEPS, BATCH, LR, seed)
            rows.append({**common, "method": f"{name}, GD", "rank": numerical_rank(x @ w), **score(x @ w, train, x_test @ w, test, seed)})
            log(f"misaligned: {rows[-1]}")
        for name, model in closed_form_rows(fit_x, graph, dim).items():
            rows.append({**common, "method": name, "rank": numerical_rank(model.transform(x)),
                         **score(model.transform(x), train, model.transform(x_test), test, seed)})
    return rows


# ------------------------------------------------------------------------------------------------ report
METRICS = ("knn_top1", "knn_top1_k20", "linear_top1", "rank", "label_agreement")


def averaged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per setting (all keys but the seed and the metrics): metrics averaged over seeds, kNN per seed kept."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        key = tuple((name, value) for name, value in row.items() if name not in METRICS and name != "seed")
        groups.setdefault(key, []).append(row)
    result = []
    for key, members in groups.items():
        row = dict(key)
        row.update({name: float(np.mean([m[name] for m in members])) for name in METRICS if all(name in m for m in members)})
        row["knn_top1_by_seed"] = [m["knn_top1"] for m in members]
        result.append(row)
    return result


def verdicts(low: list[dict], mis: list[dict]) -> dict[str, Any]:
    """The abstract's claims, decided from the kNN (k = 200) accuracies averaged over seeds."""
    result: dict[str, Any] = {}
    if low:
        best: dict[str, dict[int, float]] = {"GD": {}, "closed form": {}}
        for size in LOW_DATA_SIZES:
            at_size = [r for r in low if r["n_images"] == size]
            sweep = {r["invariance_weight"]: r["knn_top1"] for r in at_size if r["method"] == "VICReg GD"}
            closed = {r["invariance_weight"]: r["knn_top1"] for r in at_size if r["method"] == "VICReg closed form (strong decorrelation)"}
            others = {r["method"]: r["knn_top1"] for r in at_size if r["method"] in ("SimCLR GD", "BarlowTwins GD")}
            best["GD"][size], best["closed form"][size] = max(sweep, key=sweep.get), max(closed, key=closed.get)
            high = max(value for weight, value in sweep.items() if weight >= 25.0)
            result[f"low_data_{size}"] = {
                "vicreg_gd_knn_by_invariance_weight": sweep, "vicreg_closed_form_knn_by_invariance_weight": closed, **others,
                "best_invariance_weight_gd": best["GD"][size], "best_invariance_weight_closed_form": best["closed form"][size],
                "NeurIPS: SimCLR or VICReg with a high (>= 25) invariance weight is the best GD method": max(others["SimCLR GD"], high) >= max([*sweep.values(), *others.values()]),
            }
        small, large = min(LOW_DATA_SIZES), max(LOW_DATA_SIZES)
        result["low_data: fewer images prefer a higher invariance weight (both readings)"] = {
            kind: best[kind][small] > best[kind][large] for kind in best}
    if mis:
        clean = {r["method"]: r["knn_top1"] for r in mis if r["graph"] == mis[0]["graph"]}
        for graph in dict.fromkeys(r["graph"] for r in mis[1:] if r["graph"] != mis[0]["graph"]):
            accuracy = {r["method"]: r["knn_top1"] for r in mis if r["graph"] == graph and r["method"].endswith(", GD")}
            drop = {m: clean[m] - a for m, a in accuracy.items()}
            simclr = accuracy["SimCLR (tau 0.2), GD"]
            barlow = max(accuracy["BarlowTwins (5e-3, published), GD"], accuracy["BarlowTwins (off-diagonal 1), GD"])
            small, published = accuracy["VICReg (1/25/1, small invariance), GD"], accuracy["VICReg (25/25/1, published), GD"]
            result[f"misaligned: {graph}"] = {
                "knn_top1": accuracy, "drop_from_aligned_views": drop,
                "least_drop": min(drop, key=drop.get), "most_accurate": max(accuracy, key=accuracy.get),
                "NeurIPS reading holds (BarlowTwins or small-invariance VICReg beat SimCLR and published VICReg)": max(barlow, small) >= max(simclr, published),
                "arXiv reading holds (small-invariance VICReg beats SimCLR and BarlowTwins)": small >= max(simclr, barlow),
                "best BarlowTwins beats SimCLR": barlow >= simclr,
            }
    return result


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Practical claims of Balestriero & LeCun (NeurIPS 2022) on Fashion-MNIST", "",
             "Generated by `scripts/reproduce_paper.py`; protocol in `practical.json`. Linear regime Z = X W on a frozen "
             "random convnet's 128-d features (seeded), whitened; test split (10,000 images); `knn_top1`: kNN k = 200, "
             "`knn_top1_k20`: k = 20 (cosine, T = 0.1); `linear_top1`: linear probe; angles in degrees.", ""]

    def table(rows: list[dict], keys: list[str]) -> None:
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        for row in rows:
            cells = []
            for key in keys:
                value = row.get(key, "")
                value = "n/a" if value is None else value
                if isinstance(value, list):
                    value = ", ".join(f"{v:.3f}" for v in value)
                cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")

    if results.get("aligned"):
        lines += ["## (i) Label graph (aligned G), 2,000 train images, K = 9", ""]
        table(results["aligned"], ["method", "knn_top1", "knn_top1_k20", "linear_top1", "max_angle_to_lda", "mean_angle_to_lda", "rank",
                                   "full_batch_loss_found", "full_batch_loss_min_in_lda_subspace"])
    if results.get("low_data"):
        lines += ["## (ii) Low-data regime: views graph (4 views), K = 16; mean over seeds", ""]
        table(results["low_data"], ["n_images", "method", "invariance_weight", "knn_top1", "knn_top1_by_seed", "knn_top1_k20", "linear_top1", "rank"])
    if results.get("misaligned"):
        lines += ["## (iii) Misaligned G: 2,000 images, K = 16; mean over seeds", ""]
        table(results["misaligned"], ["graph", "label_agreement", "method", "knn_top1", "knn_top1_by_seed", "knn_top1_k20", "linear_top1", "rank"])
    if results.get("verdicts"):
        lines += ["## Verdicts (kNN k = 200)", "", "```json", json.dumps(results["verdicts"], indent=2), "```", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(17, 5))
    if results.get("aligned"):
        rows = results["aligned"]
        axes[0].barh([r["method"] for r in rows], [r["knn_top1"] for r in rows], color="tab:blue")
        axes[0].set_xlim(0.4, 0.85)
        axes[0].set_xlabel("test kNN top-1 (k = 200)")
        axes[0].set_title("(i) label graph: every loss vs LDA")
        axes[0].tick_params(axis="y", labelsize=7)
    if results.get("low_data"):
        for size, style in zip(LOW_DATA_SIZES, ("-", "--")):
            for method, colour in (("VICReg GD", "tab:red"), ("VICReg closed form (strong decorrelation)", "tab:orange")):
                rows = [r for r in results["low_data"] if r["n_images"] == size and r["method"] == method]
                axes[1].plot([r["invariance_weight"] for r in rows], [r["knn_top1"] for r in rows], style, color=colour, marker="o", label=f"{method}, N'={size}")
            for method, colour in (("SimCLR GD", "tab:green"), ("BarlowTwins GD", "tab:purple")):
                value = next(r["knn_top1"] for r in results["low_data"] if r["n_images"] == size and r["method"] == method)
                axes[1].axhline(value, linestyle=style, color=colour, label=f"{method}, N'={size}")
        axes[1].set_xscale("log")
        axes[1].set_xlabel("VICReg invariance weight (variance 25, covariance 1)")
        axes[1].set_ylabel("test kNN top-1")
        axes[1].set_title("(ii) low data: invariance weight")
        axes[1].legend(fontsize=6)
    if results.get("misaligned"):
        rows = results["misaligned"]
        graphs = list(dict.fromkeys(r["graph"] for r in rows))
        for method in dict.fromkeys(r["method"] for r in rows):
            values = [next(r["knn_top1"] for r in rows if r["graph"] == g and r["method"] == method) for g in graphs]
            axes[2].plot(range(len(graphs)), values, marker="o", linestyle="-" if method.endswith("GD") else ":", label=method)
        axes[2].set_xticks(range(len(graphs)), [g.replace(" (nuisance)", "\n(nuisance)") for g in graphs], fontsize=7)
        axes[2].set_ylabel("test kNN top-1")
        axes[2].set_title("(iii) misaligned G")
        axes[2].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="leaderboards/paper")
    parser.add_argument("--starts", type=int, default=3, help="random starts of each closed-form verification")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of: {', '.join(PARTS)}")
    parser.add_argument("--seeds", default="0,1", help="seeds of the low-data and misaligned runs (subset, views, network, "
                                                        "initialisation); the aligned runs use the first")
    args = parser.parse_args()
    parts = [p for p in args.only.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    started = time.perf_counter()
    if "closed-forms" in parts:
        run_closed_forms(out_dir, args.starts)
    practical = [p for p in parts if p != "closed-forms"]
    if practical:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        full_train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
        results: dict[str, Any] = {"protocol": {
            "dataset": "fashion-mnist", "train": "class-balanced seeded subsets of the train split", "test": "test split (10,000)",
            "features": "frozen random convnet (seeded like the run, 128 dims), whitened on the train images (ridge 0.1 x mean eigenvalue)",
            "regime": "linear Z = X W",
            "optimiser": f"Adam lr {LR}, cosine decay, {STEPS} steps, {BATCH} sampled edges per batch (graph restricted to the batch)",
            "loss_defaults": {loss: loss_defaults(loss) for loss in LOSSES}, "augment": "simclr recipe", "seeds": seeds, "aligned_seed": seeds[0],
            "knn": "k = 200 (and 20), cosine, T = 0.1", "linear": "ssl_bench.eval.linear_probe"}}
        if "aligned" in practical:
            results["aligned"] = aligned(balanced_subset(full_train, 2000, seeds[0]), test, seeds[0])
        if "low-data" in practical:
            results["low_data_per_seed"] = [row | {"seed": seed} for seed in seeds for row in low_data(full_train, test, seed)]
            results["low_data"] = averaged(results["low_data_per_seed"])
        if "misaligned" in practical:
            results["misaligned_per_seed"] = [row | {"seed": seed} for seed in seeds
                                              for row in misaligned(balanced_subset(full_train, 2000, seed), test, seed)]
            results["misaligned"] = averaged(results["misaligned_per_seed"])
        results["verdicts"] = verdicts(results.get("low_data", []), results.get("misaligned", []))
        results["protocol"]["seconds"] = time.perf_counter() - started
        (out_dir / "practical.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
        (out_dir / "practical.md").write_text(markdown(results))
        plot(results, out_dir / "practical.png")
    print(json.dumps({"out_dir": str(out_dir), "parts": parts, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
