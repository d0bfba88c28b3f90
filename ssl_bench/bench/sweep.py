"""Sweeps: a ``sweep:`` key in a suite block crosses values of the block's settings.

    trained:
      methods: [simclr, vicreg]
      sweep:
        lr: [0.1, 0.3]
        augment.crop_scale: [[0.08, 1.0], [0.2, 1.0], [0.5, 1.0]]

is the block repeated once per combination (here 2 x 3 = 6 blocks, the last key varying fastest), each with its
values set; a dotted key sets one key of a mapping setting (``augment``, ``method_params``), and the mapping
setting itself takes a list of mappings, each merged into the block's own (``augment: [{crop_scale: [0.5, 1.0],
brightness: 0.1}, {crop_scale: [0.08, 1.0], brightness: 0.8}]``: recipes from weak to strong). Every variant is
then read and validated like any other block, so an unknown or invalid setting is one line, and each cell carries
its values in its settings (its run id, protocol and leaderboard row).
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.validation import check_mapping

SWEEP_KEY = "sweep"
MAPPING_SETTINGS = ("augment", "method_params")  # the settings a dotted sweep key reaches into


def expand_sweep(block: Any) -> list[Any]:
    """The block once per combination of its ``sweep:`` values (itertools.product order), or [block] unchanged
    when it has no sweep."""
    if not isinstance(block, dict) or SWEEP_KEY not in block:
        return [block]
    sweep = check_mapping(block[SWEEP_KEY], SWEEP_KEY)
    if not sweep:
        raise UserError("sweep: name at least one setting and its values, e.g. sweep: {lr: [0.1, 0.3]}")
    axes: list[tuple[str, str, list[Any]]] = []
    for key, values in sweep.items():
        if not isinstance(key, str) or not key:
            raise UserError(f"sweep keys are setting names, got {key!r}")
        if not isinstance(values, list) or not values:
            raise UserError(f"sweep {key} must be a non-empty list of values, got {values!r}")
        head, _, tail = key.partition(".")
        if tail and head not in MAPPING_SETTINGS:
            raise UserError(f"sweep {key}: only {' and '.join(MAPPING_SETTINGS)} take a dotted key "
                            f"(e.g. augment.crop_scale); sweep {head} itself")
        if not tail and key in MAPPING_SETTINGS:
            own = set(check_mapping(block.get(key) or {}, key))
            for value in values:
                overlap = sorted(own & set(check_mapping(value, f"each value of sweep {key}")))
                if overlap:
                    raise UserError(f"sweep {key} and the block both set {key} {overlap}; keep one")
        elif (tail in (block.get(head) or {})) if tail else head in block:
            raise UserError(f"sweep {key} and the block both set {key}; keep one")
        axes.append((head, tail, values))
    base = {key: value for key, value in block.items() if key != SWEEP_KEY}
    variants = []
    for combination in itertools.product(*(values for _, _, values in axes)):
        variant = copy.deepcopy(base)
        for (head, tail, _), value in zip(axes, combination):
            if tail:
                variant[head] = {**check_mapping(variant.get(head) or {}, head), tail: value}
            elif head in MAPPING_SETTINGS:
                variant[head] = {**(variant.get(head) or {}), **value}
            else:
                variant[head] = value
        variants.append(variant)
    return variants
