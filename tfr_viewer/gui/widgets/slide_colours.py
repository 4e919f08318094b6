"""Colours of the slide view, readable on the light and on the dark background alike.

A categorical palette with no black, grey or near-white colour (each stays at least
`MIN_CONTRAST` apart from both backgrounds) and a ramp whose low end is a light violet rather
than viridis' near-black, which vanished on the dark theme.
"""

from __future__ import annotations

import numpy as np

from ...core.mosaic_colours import ramp

LIGHT_BACKGROUND = "#ffffff"
DARK_BACKGROUND = "#1f1f22"
MIN_CONTRAST = 2.0  # WCAG contrast ratio each palette colour keeps against both backgrounds

# Mid-luminance colours, in an order where neighbours differ in hue
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#17a2b8", "#b07aa1", "#c49a00", "#9c755f",
           "#7b68ee", "#2ca58d", "#d4608c", "#8a9a2a"]
MISSING = "#8c8c8c"  # tiles without a value: a mid grey, seen on both backgrounds
RAMP = ["#%02x%02x%02x" % tuple(int(c) for c in colour) for colour in ramp(np.linspace(0.0, 1.0, 12))]
RAMP_LOW_NAME, RAMP_HIGH_NAME = "purple", "yellow"


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of a '#rrggbb' colour (0 black .. 1 white)."""
    channels = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], np.float64) / 255.0
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours (1 = the same luminance .. 21 = black on white)."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def palette_colour(group: int) -> str:
    return PALETTE[int(group) % len(PALETTE)]
