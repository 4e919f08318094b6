"""The slide mosaic: each tile drawn as its own image at its location, reconstructing the slide
without the whole-slide image.

The public face of three parts: the geometry (`grid_step`, `robust_bounds`, `outlier_mask`,
`cell_boxes` in `mosaic_layout`), the cached overview for the zoomed-out view (`Overview`,
`build_overview`, `load_or_build_overview` in `overview`) and `render_mosaic`, the slide at a
chosen width as a Pillow image (the `mosaic` command).
"""

from __future__ import annotations

from .mosaic_layout import cell_boxes, grid_step, outlier_mask, robust_bounds
from .overview import Overview, build_overview, decode_cell, iter_build_overview

__all__ = [
    "Overview",
    "build_overview",
    "cell_boxes",
    "decode_cell",
    "grid_step",
    "iter_build_overview",
    "outlier_mask",
    "robust_bounds",
]
