"""onnxruntime inference on a tiny committed model, read relative to the script."""
import os

import numpy as np
import onnxruntime as ort

here = os.path.dirname(os.path.abspath(__file__))
opts = ort.SessionOptions()
opts.log_severity_level = 3
session = ort.InferenceSession(os.path.join(here, "model.onnx"), opts, providers=["CPUExecutionProvider"])
print("inputs:", [(i.name, i.shape) for i in session.get_inputs()])
print("outputs:", [o.name for o in session.get_outputs()])
x = np.array([[1, 2, 3, 4], [-1, 0, 0.5, 2]], dtype=np.float32)
(y,) = session.run(None, {"x": x})
print(np.round(y, 3).tolist())
print("providers:", session.get_providers())
