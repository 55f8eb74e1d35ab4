"""PyQt6 on the offscreen platform: widgets, layout, painting, rendering a widget to a QImage."""
import sys

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget

app = QApplication(sys.argv[:1])
print("platform:", app.platformName())
w = QWidget()
layout = QVBoxLayout(w)
label = QLabel("Hello Qt")
button = QPushButton("Press")
clicks = []
button.clicked.connect(lambda: clicks.append(1))
layout.addWidget(label)
layout.addWidget(button)
w.resize(200, 120)
button.click()
print("clicks:", len(clicks))
img = QImage(QSize(200, 120), QImage.Format.Format_ARGB32)
img.fill(QColor("white"))
w.render(img)
print("image:", img.width(), img.height(), not img.isNull())
p = QPainter(img)
p.fillRect(0, 0, 10, 10, QColor(255, 0, 0))
p.end()
print("pixel:", QColor(img.pixel(5, 5)).name(), QColor(img.pixel(199, 119)).alpha())
print("align:", label.alignment() == Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
