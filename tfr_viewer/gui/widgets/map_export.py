"""The slide view as an image of a chosen size: the mosaic (or dots) in view, rendered off
screen with QPainter onto a QImage, with a title and the legend drawn in and no selection ring
or rectangle. Big sizes are capped, and the cap is said."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from .legend import legend_height, paint_legend

if TYPE_CHECKING:
    from .location_map import LocationMap

EXPORT_WIDTH = 4000  # the width the export dialog offers
MAX_EXPORT_SIDE = 16384
MAX_EXPORT_PIXELS = 2**26  # 64 Mpx: 256 MiB of ARGB while it is drawn


def export_width(width: int, aspect: float) -> tuple[int, str]:
    """The width to render for `width` asked, when the map part has height/width `aspect`: within
    the caps (with room for title and legend), and a note when it had to shrink."""
    fits = min(MAX_EXPORT_SIDE, MAX_EXPORT_SIDE / max(aspect, 1e-9) * 0.8, (0.8 * MAX_EXPORT_PIXELS / max(aspect, 1e-9)) ** 0.5)
    if width <= fits:
        return max(int(width), 16), ""
    capped = int(fits)
    return capped, (f"{width:,} px wide would be too big: exported {capped:,} px wide "
                    f"(at most {MAX_EXPORT_SIDE:,} px a side and {MAX_EXPORT_PIXELS // 2**20} Mpx)")


def render_map(view: LocationMap, width: int, title: str = "") -> tuple[QImage, str]:
    """The view's visible area as an image `width` pixels wide (title above, legend below) and a
    note when the size was capped."""
    box = view.getPlotItem().getViewBox()
    source = box.sceneBoundingRect()
    if source.width() <= 0 or source.height() <= 0:
        return QImage(), "the map has no size to export"
    width, note = export_width(width, source.height() / source.width())
    font = QFont(view.font())
    font.setPixelSize(max(12, int(width / 90)))
    metrics = QFontMetricsF(font)
    legend = view.legend_content()
    margin = metrics.height() * 0.6
    title = title or " · ".join(view.slide_titles()) or ""
    title_h = metrics.height() + margin if title else 0.0
    legend_h = legend_height(legend, width - 2 * margin, metrics) + margin if not legend.is_empty() else 0.0
    height = int(round(width * source.height() / source.width() + title_h + legend_h + margin))
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    background = view.backgroundBrush().color()
    image.fill(background)
    ink = QColor("#e0e0e4" if view.dark else "#202024")
    band = view.band_rect()
    view.clear_band()
    view.set_highlight_visible(False)
    axes = [view.getPlotItem().getAxis(name) for name in ("left", "bottom")]
    for axis in axes:  # their labels and grid lines would be drawn over the picture, scaled up
        axis.hide()
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setFont(font)
        if title:
            painter.setPen(ink)
            painter.drawText(QRectF(margin, margin / 2, width - 2 * margin, metrics.height()),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter) | int(Qt.TextFlag.TextSingleLine),
                             title)
        map_h = height - title_h - legend_h - margin
        target = QRectF(0, title_h, width, max(map_h, 1))
        view.scene().render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)
        if legend_h:
            paint_legend(painter, QRectF(margin, height - legend_h, width - 2 * margin, legend_h), legend, ink)
    finally:
        painter.end()
        view.set_highlight_visible(True)
        for axis in axes:
            axis.show()
        if band is not None:
            view.show_band(band)
    return image, note
