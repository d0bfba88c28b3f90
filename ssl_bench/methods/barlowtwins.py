"""BarlowTwins (Zbontar et al., ICML 2021): lambda = 5e-3 on the off-diagonal; 3-layer projector.

The paper's ImageNet projector is 8192-8192-8192; the default here is 2048-2048-2048, solo-learn's CIFAR
setting (override with ``projector_dims``).
"""

from ssl_bench.methods.base import METHODS, MethodSpec
from ssl_bench.methods.losses import barlow_twins_loss

METHODS.register("barlowtwins")(
    MethodSpec(
        name="barlowtwins",
        loss=barlow_twins_loss,
        projector_dims=(2048, 2048, 2048),
        loss_params={"off_diagonal_weight": 5e-3},
        reference="Zbontar et al. 2021, arXiv:2103.03230",
        augment="byol",
        family="redundancy reduction",
        closed_form="barlowtwins-closed-form",  # Balestriero & LeCun 2022
        optimizer={"name": "lars", "lr": 0.3, "weight_decay": 1e-4},
    )
)
