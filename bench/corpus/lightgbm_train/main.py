"""LightGBM: train a small booster (native lib loaded by ctypes), predict, save/load model text, sklearn API."""
import numpy as np
import lightgbm as lgb


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    ds = lgb.Dataset(X, label=y)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 0, "deterministic": True}
    b = lgb.train(params, ds, num_boost_round=20)
    p = b.predict(X[:5])
    print("pred:", np.round(p, 3).tolist())
    s = b.model_to_string()
    b2 = lgb.Booster(model_str=s)
    print("reload same:", np.allclose(b2.predict(X[:5]), p))
    clf = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1, random_state=0)
    clf.fit(X, y)
    print("acc:", round((clf.predict(X) == y).mean(), 2))
    print("lib:", lgb.basic._LIB is not None)


main()
