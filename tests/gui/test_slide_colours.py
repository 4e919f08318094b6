"""Colours of the slide view: readable on both themes, classes and numbers explained by the
legend, a subset shown with the rest hidden; checked on rendered pixels where it matters."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from tfr_viewer.gui.widgets.location_map import LocationMap
from tfr_viewer.gui.widgets.slide_colours import (
    DARK_BACKGROUND,
    LIGHT_BACKGROUND,
    MIN_CONTRAST,
    MISSING,
    PALETTE,
    RAMP,
    contrast_ratio,
    relative_luminance,
)


def test_every_palette_colour_stands_out_on_both_backgrounds() -> None:
    for colour in PALETTE + [MISSING]:
        assert contrast_ratio(colour, LIGHT_BACKGROUND) >= MIN_CONTRAST, colour
        assert contrast_ratio(colour, DARK_BACKGROUND) >= MIN_CONTRAST, colour
    assert len(set(PALETTE)) == len(PALETTE) >= 10
    assert contrast_ratio("#000000", DARK_BACKGROUND) < MIN_CONTRAST  # the check can fail: black would
    assert contrast_ratio("#f0e442", LIGHT_BACKGROUND) < MIN_CONTRAST  # and so would the old pale yellow


def test_the_ramps_low_end_shows_on_the_dark_background() -> None:
    assert contrast_ratio(RAMP[0], DARK_BACKGROUND) >= MIN_CONTRAST
    assert contrast_ratio("#440154", DARK_BACKGROUND) < MIN_CONTRAST  # viridis' own low end did not
    luminance = [relative_luminance(c) for c in RAMP]
    assert luminance[-1] > 3 * luminance[0]  # it still runs from dark to light


@pytest.fixture
def view(qtbot) -> LocationMap:
    widget = LocationMap()
    qtbot.addWidget(widget)
    widget.resize(400, 400)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_mosaic(False)  # dots: one opaque dot per tile, the colour under test
    return widget


def _colour_at(view: LocationMap, x: float, y: float) -> str:
    """The colour drawn at slide point (x, y); points sit off the grid lines (multiples of 50)."""
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pos = view.view_point_to_widget(x, y)
    return QColor(image.pixel(round(pos.x()), round(pos.y()))).name()


@pytest.mark.parametrize("dark", [False, True])
def test_dots_are_drawn_in_palette_colours_on_either_theme(view, dark: bool) -> None:
    view.set_dark(dark)
    xy = np.array([[100.0 * k + 37, 13.0] for k in range(len(PALETTE))])
    view.set_points(xy, np.arange(len(PALETTE)), np.arange(len(PALETTE)))
    background = DARK_BACKGROUND if dark else LIGHT_BACKGROUND
    for k, colour in enumerate(PALETTE):
        seen = QColor(_colour_at(view, *xy[k]))  # a grid line (15% ink) may cross the dot
        expected = QColor(colour)
        assert max(abs(seen.red() - expected.red()), abs(seen.green() - expected.green()),
                   abs(seen.blue() - expected.blue())) <= 12, (seen.name(), colour)
        assert contrast_ratio(seen.name(), background) >= MIN_CONTRAST


def test_classes_colour_the_dots_and_fill_the_legend(view) -> None:
    xy = np.array([[37.0, 13.0], [137.0, 13.0], [237.0, 13.0], [337.0, 13.0]])
    view.set_points(xy, np.array([10, 11, 12, 13]), np.zeros(4, np.int64))
    codes = np.full(20, -1, np.int32)
    codes[[10, 12]] = 1
    codes[11] = 0
    view.set_categories(codes, ["normal", "<b>tumour</b>"], np.array([1, 2]))
    assert [_colour_at(view, x, 13) for x in (37, 137, 237, 337)] == [PALETTE[1], PALETTE[0], PALETTE[1], MISSING]
    assert view.legend_content().title == "Classes"
    assert [name for _, name, _ in view.legend_content().entries] == ["normal", "<b>tumour</b>"]  # text, not markup
    assert [count for *_, count in view.legend_content().entries] == [1, 2]
    view.set_categories(None, [], np.zeros(0))
    assert _colour_at(view, 337, 13) == PALETTE[0] and not view.legend_content().entries  # by slide: one slide


def test_numbers_colour_the_dots_on_the_ramp_with_a_colour_bar(view) -> None:
    xy = np.array([[37.0, 13.0], [137.0, 13.0], [237.0, 13.0]])
    view.set_points(xy, np.array([0, 1, 2]))
    assert view.set_color_values(np.array([2.0, 7.0, np.nan])) == (2.0, 7.0)
    assert _colour_at(view, 37, 13) == RAMP[0] and _colour_at(view, 137, 13) == RAMP[-1]
    legend = view.legend_content()
    assert legend.ramp == tuple(RAMP) and (legend.low, legend.high) == (2.0, 7.0)


def test_a_subset_hides_the_other_dots_and_their_clicks(view) -> None:
    xy = np.array([[37.0, 13.0], [137.0, 13.0], [237.0, 13.0]])
    view.set_points(xy, np.array([5, 6, 7]))
    background = _colour_at(view, 187, 37)
    view.set_shown(np.array([5, 7]))
    assert _colour_at(view, 137, 13) == background and _colour_at(view, 37, 13) == PALETTE[0]
    assert view.nearest_row(137, 13) is None and view.nearest_row(37, 13) == 5
    assert view.rows_in_rect(view.getPlotItem().getViewBox().viewRect()).tolist() == [5, 7]
    view.set_shown(None)
    assert view.nearest_row(137, 13) == 6 and _colour_at(view, 137, 13) == PALETTE[0]


def test_dots_in_the_mosaic_cover_their_tiles_cell(view) -> None:
    from tfr_viewer.gui.widgets.slide_layout import layout_slides
    from tfr_viewer.gui.widgets.slide_points import map_points

    xy = np.array([[128.0 + 256 * c, 128.0 + 256 * r] for r in range(4) for c in range(4)])
    layout = layout_slides([(0, "one", xy)])
    view.show_points(map_points(layout.xy, np.arange(16), np.zeros(16, np.int64), layout))
    view.set_mosaic(True)
    view.set_overlay_opacity(1.0)
    # a point a quarter of a cell away from the tile's centre is still the tile's colour, and clickable
    assert _colour_at(view, 128 + 64, 128 + 64) == PALETTE[0]
    assert view.nearest_row(128 + 100, 128 + 100) == 0
    assert view.nearest_row(128 + 130, 128) == 1  # over the edge: the next tile
