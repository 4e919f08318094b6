"""The map's legend: a swatch and a name (and a tile count) per slide or class, or a colour bar
for a numeric field. Painted as plain text (names come from files: never markup), by the same
function on screen and into an exported image."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

SWATCH = 12.0
SPACING = 14.0
BAR_WIDTH = 160.0
MAX_NAME_CHARS = 40


@dataclass(frozen=True)
class LegendContent:
    """Either `entries` (colour '#rrggbb', name, tile count or None) or a bar from `low` to
    `high` over `ramp` colours, titled `title`."""

    title: str = ""
    entries: tuple[tuple[str, str, int | None], ...] = ()
    ramp: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0

    def is_empty(self) -> bool:
        return not self.entries and not self.ramp


def _short(name: str) -> str:
    name = " ".join(str(name).split())  # no line breaks from a file's bytes
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…"


def _label(colour_name: str, count: int | None) -> str:
    return _short(colour_name) + (f" ({count:,})" if count is not None else "")


def legend_height(content: LegendContent, width: float, metrics: QFontMetricsF) -> float:
    """Height the legend needs at `width` (entries wrap onto more lines)."""
    return _layout(content, width, metrics)[1]


def _layout(content: LegendContent, width: float, metrics: QFontMetricsF) -> tuple[list[tuple[float, float]], float]:
    """Top-left of each entry and the total height."""
    line = max(metrics.height(), SWATCH) + 4
    x, y = 0.0, 0.0
    if content.title:
        x = metrics.horizontalAdvance(_short(content.title) + ":") + SPACING
    if content.ramp:
        return [], line
    places = []
    for colour, name, count in content.entries:
        need = SWATCH + 4 + metrics.horizontalAdvance(_label(name, count))
        if x > 0 and x + need > width:
            x, y = 0.0, y + line
        places.append((x, y))
        x += need + SPACING
    return places, y + line


def paint_legend(painter: QPainter, area: QRectF, content: LegendContent, ink: QColor) -> None:
    """Draw the legend inside `area` (text in `ink`)."""
    metrics = QFontMetricsF(painter.font())
    line = max(metrics.height(), SWATCH) + 4
    painter.setPen(ink)
    flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter) | int(Qt.TextFlag.TextSingleLine)
    if content.title:
        painter.drawText(QRectF(area.left(), area.top(), area.width(), line), flags, _short(content.title) + ":")
    places, _ = _layout(content, area.width(), metrics)
    if content.ramp:
        x = area.left() + (metrics.horizontalAdvance(_short(content.title) + ":") + SPACING if content.title else 0)
        low = f"{content.low:g}"
        painter.drawText(QRectF(x, area.top(), metrics.horizontalAdvance(low) + 2, line), flags, low)
        x += metrics.horizontalAdvance(low) + 6
        gradient = QLinearGradient(x, 0, x + BAR_WIDTH, 0)
        for k, colour in enumerate(content.ramp):
            gradient.setColorAt(k / max(len(content.ramp) - 1, 1), QColor(colour))
        painter.fillRect(QRectF(x, area.top() + (line - SWATCH) / 2, BAR_WIDTH, SWATCH), gradient)
        x += BAR_WIDTH + 6
        painter.drawText(QRectF(x, area.top(), area.right() - x, line), flags, f"{content.high:g}")
        return
    for (colour, name, count), (x, y) in zip(content.entries, places):
        top = area.top() + y
        painter.fillRect(QRectF(area.left() + x, top + (line - SWATCH) / 2, SWATCH, SWATCH), QColor(colour))
        painter.setPen(ink)
        text_left = area.left() + x + SWATCH + 4
        painter.drawText(QRectF(text_left, top, area.right() - text_left, line), flags, _label(name, count))


class MapLegend(QWidget):
    """The legend above the map; hidden while there is nothing to explain."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapLegend")
        self.content = LegendContent()
        self.ink = QColor("#202024")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setVisible(False)

    def set_content(self, content: LegendContent) -> None:
        self.content = content
        self.setVisible(not content.is_empty())
        self.setFixedHeight(self.heightForWidth(max(self.width(), 200)))
        self.update()

    def set_dark(self, dark: bool) -> None:
        self.ink = QColor("#e0e0e4" if dark else "#202024")
        self.update()

    def texts(self) -> list[str]:
        """What the legend says, entry by entry (for tests and the accessibility name)."""
        if self.content.ramp:
            return [self.content.title, f"{self.content.low:g}", f"{self.content.high:g}"]
        return [_label(name, count) for _, name, count in self.content.entries]

    def sizeHint(self) -> QSize:  # noqa: N802
        height = legend_height(self.content, max(self.width(), 200), QFontMetricsF(self.font()))
        return QSize(200, int(height) + 2)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return int(legend_height(self.content, width, QFontMetricsF(self.font()))) + 2

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.setFixedHeight(self.heightForWidth(self.width()))

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        paint_legend(painter, QRectF(self.rect()), self.content, self.ink)
        painter.end()
