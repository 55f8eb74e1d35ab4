"""scikit-image: lazy_loader submodules (attach_stub reads .pyi stubs at run time),
filters, measure, transform and a bundled sample image from skimage.data."""
import numpy as np
import skimage
from skimage import data, filters, measure, transform, morphology, color, feature

img = data.camera()
print("camera", img.shape, img.dtype, int(img.mean()))
edges = filters.sobel(img)
print("sobel", round(float(edges.mean()), 5))
t = filters.threshold_otsu(img)
print("otsu", t)
lab = measure.label(morphology.remove_small_objects(img > t, 64))
print("regions", lab.max())
small = transform.resize(img, (64, 64), anti_aliasing=True)
print("resize", small.shape, round(float(small.sum()), 2))
rgb = data.astronaut()
print("astronaut", rgb.shape, round(float(color.rgb2gray(rgb).mean()), 5))
print("corners", len(feature.corner_peaks(feature.corner_harris(small), min_distance=3)))
print("version ok", skimage.__version__.count(".") >= 1)
