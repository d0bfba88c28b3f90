"""SimCLR (Chen et al., ICML 2020): NT-Xent on a 2-layer projector (2048 -> 128)."""

from ssl_bench.methods.base import METHODS, MethodSpec
from ssl_bench.methods.losses import simclr_loss

METHODS.register("simclr")(
    MethodSpec(
        name="simclr",
        loss=simclr_loss,
        projector_dims=(2048, 128),
        loss_params={"temperature": 0.2},
        positive_params=("temperature",),
        reference="Chen et al. 2020, arXiv:2002.05709; temperature 0.2 as solo-learn's CIFAR recipe",
        augment="simclr",
        family="contrastive",
        closed_form="simclr-closed-form",  # Balestriero & LeCun 2022
        optimizer={"name": "lars", "lr": 0.4, "weight_decay": 1e-5},
    )
)
