"""How an encoder trained elsewhere is named and fed (``--encoder SPEC --weights PATH``, a suite's ``encoders:``
entry): its settings, declared once, and the input statistics it may be normalised with."""

from __future__ import annotations

from dataclasses import dataclass

from ssl_bench.core.settings import setting
from ssl_bench.core.validation import check_fields

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NORMALIZATIONS = ("imagenet", "dataset")


@dataclass(frozen=True)
class EncoderSettings:
    """An encoder trained elsewhere and the input protocol of its rows."""

    encoder: str | None = setting(None, metavar="SPEC",
                                  help="torchvision:NAME | timm:NAME | an ssl-bench backbone (resnet18: CIFAR stem), "
                                       "with --weights; e.g. --encoder resnet18 --weights solo-learn.ckpt")
    weights: str | None = setting(None, metavar="PATH",
                                  help="a state dict or a Lightning/solo-learn/lightly checkpoint (the backbone's keys "
                                       "are found); 'default': the library's published weights")
    image_size: int | None = setting(None, minimum=8, metavar="N",
                                     help="resize the images to N x N before the encoder (default: the dataset's size)")
    normalization: str | None = setting(None, choices=NORMALIZATIONS,
                                        help="input statistics (default: imagenet for torchvision:/timm:, dataset "
                                             "otherwise)")


def check_input_protocol(image_size: int | None, normalization: str | None) -> None:
    """The input size and normalisation of an encoder, wherever they come from (flags, a suite's encoders:)."""
    check_fields(EncoderSettings(image_size=image_size, normalization=normalization))
