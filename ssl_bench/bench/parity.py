"""Recipe parity: a suite's trained cells against a published configuration, field by field.

A parity table (``suites/parity/*.yaml``) transcribes the reference configuration and holds ours beside it:

    reference: "solo-learn scripts/pretrain/cifar/*.yaml, commit 9187ea3"
    methods:
      simclr:
        lr_per_256: {reference: 0.4, ours: 0.4}
        precision: {reference: "fp16 mixed", ours: "bf16 autocast on CUDA, float32 on CPU", differs: "why"}

A section is named by the method, or ``METHOD/BACKBONE`` where the suite trains the method with another recipe on
another backbone (that section is used for it). Every field of :func:`ssl_bench.training.recipe.effective_recipe`
must be in the table for every method the suite trains;
``ours`` must equal what the cell really trains (so a drifting default fails), and ``differs`` must be given
exactly when ``reference`` and ``ours`` differ (so every difference is named and justified).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import load_yaml


@dataclass(frozen=True)
class ParityRow:
    """One field of one method: the reference value, ours as written and as trained, the named difference."""

    method: str
    field: str
    reference: Any
    ours: Any
    trained: Any
    differs: str | None

    @property
    def problem(self) -> str | None:
        """Why this row fails parity, or None."""
        if not same(self.ours, self.trained):
            return f"the table says {self.ours!r} but the suite trains {self.trained!r}"
        if same(self.reference, self.ours) and self.differs:
            return "names a difference, but reference and ours are equal"
        if not same(self.reference, self.ours) and not self.differs:
            return f"reference {self.reference!r} and ours {self.ours!r} differ without a 'differs:' reason"
        return None


def same(a: Any, b: Any) -> bool:
    """Equal values, floats to 1e-12 relative, sequences element by element."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def parity_rows(table_path: str | Path, suite: Any) -> list[ParityRow]:
    """Every (method, field) of ``suite``'s trained cells against the table at ``table_path``."""
    from ssl_bench.bench.cells import train_config
    from ssl_bench.training.recipe import effective_recipe

    table = load_yaml(table_path, "parity table")
    methods = table.get("methods") or {}
    rows = []
    for cell in suite.cells:
        if not cell.epochs:  # only trained cells have a recipe
            continue
        section = f"{cell.method}/{cell.backbone}" if f"{cell.method}/{cell.backbone}" in methods else cell.method
        if section not in methods:
            raise UserError(f"{table_path} has no section for {cell.method}, which {suite.name} trains")
        entries = methods[section]
        for field, trained in effective_recipe(train_config(cell)).items():
            if field not in entries:
                raise UserError(f"{table_path}: {cell.method} lacks the field {field!r}")
            entry = entries[field]
            rows.append(ParityRow(section, field, entry.get("reference"), entry.get("ours"), trained,
                                  entry.get("differs")))
    return rows


def parity_markdown(rows: list[ParityRow]) -> str:
    """The table as Markdown: method | field | reference | ours | difference."""
    lines = ["| method | field | reference | ours | difference |", "|---|---|---|---|---|"]
    lines += [f"| {r.method} | {r.field} | {r.reference} | {r.ours} | {r.differs or ''} |" for r in rows]
    return "\n".join(lines) + "\n"
