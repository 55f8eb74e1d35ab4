"""A small numpy/pandas report, the kind of data tool people freeze."""

import numpy as np
import pandas as pd

frame = pd.DataFrame({"group": list("abcabc"), "value": np.arange(6, dtype=float)})
print(frame.groupby("group")["value"].agg(["sum", "mean"]).to_string())
