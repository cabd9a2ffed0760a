"""The formulas of the Inside and Learn pages, written out with the live model's numbers (LaTeX)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import flowcore as fc
from flowcore import analysis
from flowcore.plots.style import coordinate_names


# -- LaTeX with the user's numbers ------------------------------------------------------------
def _num(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return r"\text{" + str(value) + "}"
    return f"{value:.{digits}f}"


def _half(d: int) -> str:
    r"""The coefficient ``d/2`` of ``log 2π`` in ``log N(z; 0, I)``, written as a reader would."""
    return "" if d == 2 else (f"{d // 2}" if d % 2 == 0 else rf"\tfrac{{{d}}}{{2}}")


def _signed(value: float) -> str:
    """``+ 0.123`` or ``- 0.123``, to continue a sum."""
    return ("- " if value < 0 else "+ ") + _num(abs(value))


def vector_latex(values: Sequence[float], limit: int = 6) -> str:
    values = list(values)
    shown = ", ".join(_num(v) for v in values[:limit])
    if len(values) > limit:
        shown += r", \ldots"
    return rf"\left({shown}\right)"


def log_det_sum_latex(layer_log_dets: Sequence[tuple[str, float]], total: float,
                      per_line: int = 8) -> str:
    r"""``\underbrace{a}_{\text{std}} + \underbrace{b}_{1} + … = total``, wrapped in lines."""
    terms = []
    for i, (_name, value) in enumerate(layer_log_dets):
        label = r"\text{std}" if i == 0 else str(i)  # step i is layer i; step 0 standardises
        text = _num(value) if i == 0 else _signed(value)
        terms.append(rf"\underbrace{{{text}}}_{{{label}}}")
    lines = [" ".join(terms[i:i + per_line]) for i in range(0, len(terms), per_line)]
    return r" \\ &\quad ".join(lines) + rf" = {_num(total)}"


def change_of_variables_latex(info: analysis.PointInspection) -> str:
    """The change-of-variables formula with one point's numbers (see plots.point_inspection)."""
    z = info.z
    return (
        r"\begin{aligned}"
        rf"x &= {vector_latex(info.x)} \\"
        rf"z = f(x) &= {vector_latex(z)} \\"
        rf"\log p_z(z) &= -\tfrac{{1}}{{2}}\lVert z\rVert^2 - {_half(len(z))}\log 2\pi"
        rf" = {_num(info.log_p_z)} \\"
        rf"\log\lvert\det J_f(x)\rvert &= "
        + log_det_sum_latex(info.layer_log_dets, info.log_det) + r" \\"
        rf"\log p_x(x) &= \log p_z(z) + \log\lvert\det J_f(x)\rvert = {_num(info.log_p_z)} "
        rf"{_signed(info.log_det)} = {_num(info.log_p_x)}"
        rf"\quad\Rightarrow\quad p_x(x) = {math.exp(min(info.log_p_x, 700.0)):.4g}"
        r"\end{aligned}"
    )


def log_det_table(info: analysis.PointInspection) -> list[dict[str, Any]]:
    rows, running = [], 0.0
    for name, value in info.layer_log_dets:
        running += value
        rows.append({"step": name, "log|det J| (nats)": value, "running sum": running})
    return rows



# -- Learn ------------------------------------------------------------------------------------
def mask_latex(mask: np.ndarray) -> str:
    entries = r" \\ ".join(str(int(v)) for v in mask)
    return rf"b = \begin{{pmatrix}} {entries} \end{{pmatrix}}"


def mask_words(mask: np.ndarray) -> str:
    passed = coordinate_names("x", np.flatnonzero(mask > 0.5))
    changed = coordinate_names("x", np.flatnonzero(mask <= 0.5))
    return f"passes {passed} through unchanged and transforms {changed}"


def affine_step_latex(step: analysis.LayerStep) -> str:
    """The affine coupling forward pass of one layer with the point's numbers."""
    u, s, t, out = step.input, step.scale, step.shift, step.output
    return (
        r"\begin{aligned}"
        rf"u &= {vector_latex(u)} \quad\text{{(what layer {step.layer} receives)}} \\"
        rf"(1-b)\odot s(b\odot u) &= {vector_latex(s)} \\"
        rf"(1-b)\odot t(b\odot u) &= {vector_latex(t)} \\"
        rf"u \odot e^{{(1-b)\odot s}} + (1-b)\odot t &= {vector_latex(out)} \\"
        rf"\log\lvert\det J\rvert = \textstyle\sum_i (1-b_i)\, s_i &= {_num(step.log_det)}"
        r"\end{aligned}"
    )


def layer_rows(flow: fc.Flow) -> list[dict[str, Any]]:
    masks = {m.layer: m.mask for m in analysis.coupling_masks(flow)}
    rows = []
    for k, layer in enumerate(flow.layers, start=1):
        mask = masks.get(k)
        rows.append({
            "layer": k, "kind": layer.label,
            "mask b": "—" if mask is None else str([int(v) for v in mask]),
            "passes": "—" if mask is None else coordinate_names("x", np.flatnonzero(mask > 0.5)),
            "transforms": "all" if mask is None else coordinate_names(
                "x", np.flatnonzero(mask <= 0.5)),
        })
    return rows
