"""h5py: write datasets, attributes, groups and compression filters to an HDF5 file, read back."""
import os
import tempfile
import h5py
import numpy as np


def main():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "data.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("grp")
        g.create_dataset("a", data=np.arange(100).reshape(10, 10), compression="gzip")
        g.create_dataset("b", data=np.linspace(0, 1, 50), compression="lzf", shuffle=True, fletcher32=True)
        f.attrs["title"] = "probe"
        f.create_dataset("s", data=np.array([b"x", b"yy"]))
        dt = h5py.string_dtype()
        f.create_dataset("u", data=["héllo", "wörld"], dtype=dt)
    with h5py.File(path, "r") as f:
        print("keys:", list(f.keys()), list(f["grp"].keys()))
        print("sum a:", int(f["grp/a"][...].sum()), "b:", round(float(f["grp/b"][-1]), 3))
        print("attrs:", f.attrs["title"], "filters:", f["grp/a"].compression, f["grp/b"].compression)
        print("u:", [s.decode() for s in f["u"][...]])
    print("hdf5 version:", h5py.version.hdf5_version.split(".")[0])


main()
