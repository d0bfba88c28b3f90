"""The names of the published augmentation recipes (:func:`ssl_bench.data.augment.default_augment` defines them),
readable without torch so that command-line choices can list them."""

RECIPES = ("simclr", "byol")  # a method names its recipe in its MethodSpec.augment
