"""SciPy: statistics, optimisation, integration, sparse matrices, interpolation, FFT."""
import numpy as np
from scipy import fft, integrate, interpolate, optimize, sparse, stats
from scipy.sparse.linalg import spsolve

print("norm cdf:", round(stats.norm.cdf(1.96), 4))
t = stats.ttest_ind([5.1, 4.9, 5.3, 5.0, 5.2], [5.9, 6.1, 6.0, 5.8, 6.2])
print("t-test significant:", bool(t.pvalue < 0.01))
res = optimize.minimize(lambda v: (v[0] - 1) ** 2 + (v[1] + 2) ** 2, [0, 0], method="BFGS")
print("minimum:", np.round(res.x, 3).tolist())
print("root:", round(optimize.brentq(lambda x: x ** 3 - 2, 0, 2), 5))
print("integral:", round(integrate.quad(np.sin, 0, np.pi)[0], 6))
A = sparse.csr_matrix(np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]]))
print("spsolve:", np.round(spsolve(A, np.array([1.0, 2, 3])), 4).tolist())
f = interpolate.CubicSpline([0, 1, 2, 3], [0, 1, 8, 27])
print("spline:", round(float(f(1.5)), 3))
print("fft peak:", int(np.argmax(np.abs(fft.rfft(np.sin(2 * np.pi * 5 * np.arange(64) / 64))))))
sol = integrate.solve_ivp(lambda t, y: -0.5 * y, (0, 2), [1.0], rtol=1e-8)
print("ode:", round(sol.y[0, -1], 4))
