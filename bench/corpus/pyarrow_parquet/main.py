"""pyarrow: build a table, compute kernels, Parquet and Feather round trips, datasets."""
import os
import tempfile

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq

table = pa.table({
    "id": pa.array(range(1, 7), pa.int32()),
    "kind": ["a", "b", "a", "c", "b", "a"],
    "value": [1.5, 2.0, 3.25, None, 5.0, 6.5],
})
print(table.schema)
print(pc.sum(table["value"]).as_py(), pc.count_distinct(table["kind"]).as_py())
print(table.group_by("kind").aggregate([("value", "sum")]).sort_by("kind").to_pylist())
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "t.parquet")
    pq.write_table(table, path, compression="zstd")
    back = pq.read_table(path)
    print("parquet equal:", back.equals(table), pq.ParquetFile(path).metadata.num_rows)
    feather.write_feather(table, os.path.join(tmp, "t.feather"))
    print("feather equal:", feather.read_table(os.path.join(tmp, "t.feather")).equals(table))
    ds.write_dataset(table, os.path.join(tmp, "ds"), format="parquet", partitioning=["kind"])
    dataset = ds.dataset(os.path.join(tmp, "ds"), format="parquet", partitioning=["kind"])
    print("dataset rows:", dataset.to_table(filter=ds.field("kind") == "a").num_rows)
