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

MAX_EXPORT_SIDE = 16384
MAX_EXPORT_PIXELS = 2**26  # 64 Mpx: 256 MiB of ARGB while it is drawn


def export_size(width: int, aspect: float, extra: float) -> tuple[int, int, str]:
    """(width, height, note) for an image `width` wide whose map part has height/width `aspect`
    and `extra` pixels of title and legend; shrunk to the caps, with a note saying so."""
    asked = width
    width = max(int(width), 16)
    height = int(round(width * aspect + extra))
    scale = min(1.0, MAX_EXPORT_SIDE / width, MAX_EXPORT_SIDE / max(height, 1), (MAX_EXPORT_PIXELS / (width * max(height, 1))) ** 0.5)
    note = ""
    if scale < 1.0:
        width = int(width * scale)
        height = int(round(width * aspect + extra))
        note = f"{asked:,} px wide would be too big: exported {width:,} x {height:,} px (at most {MAX_EXPORT_SIDE:,} px a side, {MAX_EXPORT_PIXELS // 2**20} Mpx)"
    return width, max(height, 1), note


def render_map(view: LocationMap, width: int, title: str = "") -> tuple[QImage, str]:
    """The view's visible area as an image `width` pixels wide (title above, legend below) and a
    note when the size was capped."""
    box = view.getPlotItem().getViewBox()
    source = box.sceneBoundingRect()
    if source.width() <= 0 or source.height() <= 0:
        return QImage(), "the map has no size to export"
    font = QFont(view.font())
    font.setPixelSize(max(12, int(width / 90)))
    metrics = QFontMetricsF(font)
    legend = view.legend_content()
    margin = metrics.height() * 0.6
    title = title or " · ".join(view.slide_titles()) or ""
    title_h = metrics.height() + margin if title else 0.0
    legend_h = legend_height(legend, width - 2 * margin, metrics) + margin if not legend.is_empty() else 0.0
    width, height, note = export_size(width, source.height() / source.width(), title_h + legend_h + margin)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    background = view.backgroundBrush().color()
    image.fill(background)
    ink = QColor("#e0e0e4" if view.dark else "#202024")
    band = view.band_rect()
    view.clear_band()
    view.set_highlight_visible(False)
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
        if band is not None:
            view.show_band(band)
    return image, note
