"""VICReg (Bardes, Ponce & LeCun, ICLR 2022): invariance 25, variance 25, covariance 1; 3-layer projector.

The paper's ImageNet projector is 8192-8192-8192; the default here is 2048-2048-2048, solo-learn's CIFAR
setting, which fits small images and CPUs (override with ``projector_dims``).
"""

from ssl_bench.methods.base import METHODS, MethodSpec
from ssl_bench.methods.losses import vicreg_loss

METHODS.register("vicreg")(
    MethodSpec(
        name="vicreg",
        loss=vicreg_loss,
        projector_dims=(2048, 2048, 2048),
        loss_params={"invariance_weight": 25.0, "variance_weight": 25.0, "covariance_weight": 1.0},
        reference="Bardes et al. 2022, arXiv:2105.04906",
        augment="byol",
        family="redundancy reduction",
        closed_form="vicreg-closed-form",  # Balestriero & LeCun 2022
        optimizer={"name": "lars", "lr": 0.3, "weight_decay": 1e-4},
    )
)
