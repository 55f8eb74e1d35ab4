"""pandas: frames, groupby/agg, pivot, merge, rolling windows, CSV round trip."""
import io

import numpy as np
import pandas as pd

rng = np.random.default_rng(42)
df = pd.DataFrame({
    "city": ["Berlin", "Paris", "Rome", "Berlin", "Paris", "Rome"] * 5,
    "year": np.repeat([2020, 2021, 2022, 2023, 2024], 6),
    "sales": rng.integers(10, 100, 30),
})
g = df.groupby("city")["sales"].agg(["sum", "mean", "max"]).round(2)
print(g.to_string())
print(df.pivot_table(index="year", columns="city", values="sales", aggfunc="sum").to_string())
pop = pd.DataFrame({"city": ["Berlin", "Paris", "Rome"], "pop_m": [3.7, 2.1, 2.8]})
merged = df.merge(pop, on="city").assign(per_m=lambda d: (d.sales / d.pop_m).round(1))
print(merged.groupby("city").per_m.sum().to_dict())
print(df.sort_values(["city", "year"]).groupby("city").sales.rolling(2).mean().dropna().round(1).tolist()[:5])
buf = io.StringIO()
df.to_csv(buf, index=False)
back = pd.read_csv(io.StringIO(buf.getvalue()), dtype={"city": "category"})
print(back.dtypes.astype(str).to_dict(), back.shape)
print(pd.Timestamp("2024-03-10").tz_localize("Europe/Berlin").isoformat())
