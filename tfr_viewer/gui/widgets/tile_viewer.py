"""One tile at full resolution, with zoom (wheel, +/-, the level shown), pan (drag), Fit and
100% (toggles; a double-click switches between them), previous/next (arrows, PgUp/PgDown)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


def fit_to_screen(image: QImage, screen: QSize | None) -> QImage:
    """The image, scaled down (aspect kept) to at most the screen's larger side."""
    side = max(screen.width(), screen.height()) if screen is not None and not screen.isEmpty() else 4096
    if image.width() <= side and image.height() <= side:
        return image
    return image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class _ZoomView(QGraphicsView):
    def __init__(self, owner: "TileViewer") -> None:
        super().__init__()
        self.owner = owner
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.owner.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        self.owner.toggle_fit()


class TileViewer(QWidget):
    """Full-size tile; emits `previousRequested` / `nextRequested` for the window to move the selection."""

    previousRequested = Signal()
    nextRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tileViewer")
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # slide names and errors come from the data
        self.title.setText("No tile")
        self.title.setWordWrap(True)
        self.scene = QGraphicsScene(self)
        self.item = QGraphicsPixmapItem()
        self.scene.addItem(self.item)
        self.view = _ZoomView(self)
        self.view.setScene(self.scene)
        self._zoom = 1.0
        self._fit = True
        self.zoom_label = QLabel("")
        self.zoom_label.setObjectName("zoomLevel")
        self.zoom_label.setTextFormat(Qt.TextFormat.PlainText)
        self.zoom_label.setToolTip("Zoom level (100% = one screen pixel per tile pixel)")
        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for text, tip, slot in [
            ("◀", "Previous tile (Left, PgUp)", self.previousRequested.emit),
            ("▶", "Next tile (Right, PgDown)", self.nextRequested.emit),
            ("Fit", "Fit the tile in the view (double-click: Fit / 100%)", self.fit),
            ("100%", "Actual pixels (double-click: Fit / 100%)", self.actual_size),
            ("+", "Zoom in (+)", lambda: self.zoom_by(1.25)),
            ("−", "Zoom out (-)", lambda: self.zoom_by(0.8)),
        ]:
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[text] = button
        for text in ("Fit", "100%"):
            self.buttons[text].setCheckable(True)
        buttons.addWidget(self.zoom_label)
        buttons.addStretch(1)
        for key, slot in [
            (QKeySequence(Qt.Key.Key_Left), self.previousRequested.emit),
            (QKeySequence(Qt.Key.Key_Right), self.nextRequested.emit),
            (QKeySequence(Qt.Key.Key_PageUp), self.previousRequested.emit),
            (QKeySequence(Qt.Key.Key_PageDown), self.nextRequested.emit),
            (QKeySequence(Qt.Key.Key_Plus), lambda: self.zoom_by(1.25)),
            (QKeySequence(Qt.Key.Key_Minus), lambda: self.zoom_by(0.8)),
        ]:
            shortcut = QShortcut(key, self, slot)
            # set after construction: a context given to the constructor is dropped (PySide6 6.11),
            # and these keys must not act while the grid or the tree has the focus
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

    def show_image(self, image: QImage, title: str) -> None:
        """Show a tile; an image bigger than the screen is kept scaled to the screen's size
        (a pixmap is GPU/X memory: a full-size 50k-pixel image must not be kept for display)."""
        self.item.setPixmap(QPixmap.fromImage(fit_to_screen(image, self.screen().size() if self.screen() else None)))
        self.scene.setSceneRect(self.item.boundingRect())
        self.title.setText(title)
        if self._fit:
            self.fit()
        else:
            self._apply()

    def show_message(self, text: str) -> None:
        if not self.item.pixmap().isNull():  # each change of the scene repaints the whole window at once
            self.item.setPixmap(QPixmap())
        self.title.setText(text)
        self.zoom_label.setText("")

    def clear(self) -> None:
        self.show_message("No tile")

    def has_image(self) -> bool:
        return not self.item.pixmap().isNull()

    def image_size(self) -> tuple[int, int]:
        pixmap = self.item.pixmap()
        return pixmap.width(), pixmap.height()

    def zoom_factor(self) -> float:
        return self._zoom

    def toggle_fit(self) -> None:
        """Fit, or 100% when the tile is fitted already."""
        if self._fit:
            self.actual_size()
        else:
            self.fit()

    def _show_zoom(self) -> None:
        """The zoom level in the label, and which of Fit / 100% is on."""
        shown = not self.item.pixmap().isNull()
        self.zoom_label.setText(f"{self._zoom * 100:.0f}%" if shown else "")
        self.buttons["Fit"].setChecked(self._fit)
        self.buttons["100%"].setChecked(not self._fit and abs(self._zoom - 1.0) < 1e-9)

    def zoom_by(self, factor: float) -> None:
        self._fit = False
        self._zoom = min(max(self._zoom * factor, 0.05), 40.0)
        self._apply()

    def actual_size(self) -> None:
        self._fit = False
        self._zoom = 1.0
        self._apply()

    def fit(self) -> None:
        self._fit = True
        if self.item.pixmap().isNull():
            self._show_zoom()
            return
        self.view.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom = self.view.transform().m11()
        self._show_zoom()

    def _apply(self) -> None:
        """Scale from the present zoom (not from a reset): the view's anchor, the point under
        the mouse for the wheel, stays where it is."""
        current = self.view.transform().m11()
        if current > 0:
            self.view.scale(self._zoom / current, self._zoom / current)
        else:
            self.view.resetTransform()
            self.view.scale(self._zoom, self._zoom)
        self._show_zoom()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()
