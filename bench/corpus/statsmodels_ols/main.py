"""statsmodels: formula OLS (patsy/formulaic), GLM, ARIMA, summary tables."""
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf


def main():
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b", "c"], size=n)})
    df["y"] = 1.5 + 2.0 * df.x + (df.g == "b") * 0.5 + rng.normal(scale=0.1, size=n)
    res = smf.ols("y ~ x + C(g)", data=df).fit()
    print("ols params:", res.params.round(2).to_dict())
    print("r2 > .99:", res.rsquared > 0.99)
    df["k"] = (df.y > df.y.median()).astype(int)
    glm = smf.glm("k ~ x", data=df, family=sm.families.Binomial()).fit()
    print("glm x>0:", glm.params["x"] > 0)
    y = np.cumsum(rng.normal(size=100))
    from statsmodels.tsa.arima.model import ARIMA
    ar = ARIMA(y, order=(1, 1, 0)).fit()
    print("arima params:", len(ar.params))
    print("summary lines:", len(str(res.summary()).splitlines()) > 10)
    from statsmodels.stats.multitest import multipletests
    print("fdr:", multipletests([0.01, 0.04, 0.2], method="fdr_bh")[0].tolist())
    print("dataset:", sm.datasets.get_rdataset.__name__, sm.datasets.longley.load_pandas().data.shape)


main()
