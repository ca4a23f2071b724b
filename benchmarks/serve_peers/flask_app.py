"""The spec's serving baseline (spec section 5): JSON → pandas DataFrame → model → JSON.

DW_BENCH_WORKSPACE=… python flask_app.py --port P          # Flask's threaded server
DW_BENCH_WORKSPACE=… gunicorn -w 2 -b 127.0.0.1:P flask_app:app
"""

from __future__ import annotations

import os
import sys

import pandas as pd
import torch
from flask import Flask, jsonify, request

from datawheel.registry.versions import load_model

torch.set_num_threads(1)
model = load_model("champion", workspace=os.environ["DW_BENCH_WORKSPACE"])
app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    input_data = pd.DataFrame(data["rows"])
    # the model's fastest input path (dict records; its polars path is ~10x slower per call)
    prediction = model.predict_proba(input_data.to_dict("records"))
    return jsonify(prediction.tolist())


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), threaded=True)
