"""rtree: ctypes bindings to libspatialindex shipped in the wheel (rtree/lib), found by
rtree.finder from __file__; in-memory and on-disk indexes."""
import os, tempfile
from rtree import index
import rtree

idx = index.Index()
for i, (x, y) in enumerate([(0, 0), (5, 5), (10, 10), (2, 8)]):
    idx.insert(i, (x, y, x + 1, y + 1), obj={"id": i})
print(sorted(idx.intersection((0, 0, 6, 6))))
print(list(idx.nearest((9, 9, 9, 9), 2)))
print([o.object for o in idx.intersection((1.5, 7.5, 3, 9), objects=True)])
p = index.Property(); p.dimension = 3
idx3 = index.Index(os.path.join(tempfile.mkdtemp(), "i3"), properties=p)
idx3.insert(1, (0, 0, 0, 1, 1, 1)); idx3.close()
print("sidx", rtree.core.rt.SIDX_Version().decode().split(".")[0])
