"""polars: lazy queries, group_by, joins, window functions, CSV/IPC round trip."""
import io

import polars as pl

df = pl.DataFrame({
    "team": ["red", "blue", "red", "green", "blue", "red"],
    "player": ["a", "b", "c", "d", "e", "f"],
    "score": [10, 7, 3, 9, 12, 5],
})
q = (df.lazy().filter(pl.col("score") > 4).group_by("team")
     .agg(pl.col("score").sum().alias("total"), pl.len().alias("n")).sort("team"))
print(q.collect())
print(df.with_columns(pl.col("score").rank("dense", descending=True).over("team").alias("rank")).sort("player"))
coach = pl.DataFrame({"team": ["red", "blue"], "coach": ["X", "Y"]})
print(df.join(coach, on="team", how="left").filter(pl.col("coach").is_null())["player"].to_list())
buf = io.BytesIO()
df.write_ipc(buf)
buf.seek(0)
print(pl.read_ipc(buf).equals(df))
print(pl.read_csv(io.StringIO(df.write_csv())).schema)
