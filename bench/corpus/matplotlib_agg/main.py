"""matplotlib with the Agg backend: line, bar and text plots saved to PNG and SVG in memory."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

x = np.linspace(0, 2 * np.pi, 100)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6, 3), dpi=100)
ax1.plot(x, np.sin(x), label="sin")
ax1.plot(x, np.cos(x), "--", label="cos")
ax1.legend()
ax1.set_title(r"$\alpha^2$ mathtext")
ax2.bar(["a", "b", "c"], [3, 7, 5], color="tab:orange")
ax2.set_xlabel("category")
fig.tight_layout()
png = io.BytesIO()
fig.savefig(png, format="png")
svg = io.BytesIO()
fig.savefig(svg, format="svg")
print("backend:", matplotlib.get_backend())
print("png ok:", png.getvalue()[:4] == b"\x89PNG", "size bucket KiB:", len(png.getvalue()) // 10240 * 10)
print("svg ok:", b"<svg" in svg.getvalue())
print("canvas:", fig.canvas.get_width_height())
print("font:", matplotlib.font_manager.findfont("DejaVu Sans").endswith("DejaVuSans.ttf"))
plt.close(fig)
