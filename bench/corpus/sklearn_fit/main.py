"""scikit-learn: pipeline with scaling, a classifier, cross-validation, and clustering."""
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
pipe.fit(X_train, y_train)
print("logreg accuracy:", round(pipe.score(X_test, y_test), 2))
print("predict:", pipe.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]).tolist())
forest = RandomForestClassifier(n_estimators=20, random_state=0)
print("cv mean >= 0.9:", bool(np.mean(cross_val_score(forest, X, y, cv=3)) >= 0.9))
km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
print("cluster sizes:", sorted(np.bincount(km.labels_).tolist()))
