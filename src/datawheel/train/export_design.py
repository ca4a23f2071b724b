"""ONNX for the tree and linear families: the graph reads the design matrix ``design``
(float32 [n, width]); ``predict.py`` builds it with numpy from the spec written here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datawheel.train.design_model import DesignModel

__all__ = ["design_spec", "export_design_onnx", "onnx_design_output"]

OPSET = 18


def design_spec(network: DesignModel) -> dict[str, Any]:
    """What predict.py needs to rebuild the design: layout and the TF-IDF vocabularies."""
    return {
        "family": network.kind,
        "task": network.task,
        "design": network.design.to_dict(),
    }


def _linear_graph(network: Any) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    width = network.coef.shape[1]
    weight = numpy_helper.from_array(network.coef.T.astype(np.float32), "weight")  # [w, K']
    bias = numpy_helper.from_array(network.intercept.astype(np.float32), "bias")  # [K']
    nodes = [
        helper.make_node("MatMul", ["design", "weight"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["margin"]),
    ]
    if network.task == "regression":
        nodes.append(helper.make_node("Identity", ["margin"], ["output"]))
    elif network.n_classes == 2:  # [1 - p, p] from one log-odds
        one = numpy_helper.from_array(np.ones((1, 1), np.float32), "one")
        nodes += [
            helper.make_node("Sigmoid", ["margin"], ["positive"]),
            helper.make_node("Sub", ["one", "positive"], ["negative"]),
            helper.make_node("Concat", ["negative", "positive"], ["output"], axis=1),
        ]
        extra = [one]
    else:
        nodes.append(helper.make_node("Softmax", ["margin"], ["output"], axis=1))
    initializers = [weight, bias] + (
        extra if network.task != "regression" and network.n_classes == 2 else []
    )
    graph = helper.make_graph(
        nodes,
        "datawheel_linear",
        [helper.make_tensor_value_info("design", TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, None])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _gbm_graph(network: Any) -> Any:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    width = network.design.width
    return convert_lightgbm(
        network.booster,
        initial_types=[("design", FloatTensorType([None, width]))],
        zipmap=False,
        target_opset=15,  # what onnxmltools converts to
    )


def export_design_onnx(network: DesignModel, path: Path) -> None:
    """Write the family's ONNX graph: probabilities (or the value) from ``design``."""
    import onnx

    model = _linear_graph(network) if network.kind == "linear" else _gbm_graph(network)
    onnx.save(model, str(path))


def onnx_design_output(path: Path, design: Any) -> np.ndarray:
    """Probabilities [n, K] or values [n, 1] from an exported graph for a design matrix."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dense = np.asarray(design.todense() if hasattr(design, "todense") else design, np.float32)
    outputs = session.run(None, {"design": dense})
    out = outputs[-1] if len(outputs) > 1 else outputs[0]  # trees: (label, probabilities)
    return np.asarray(out, dtype=np.float64).reshape(dense.shape[0], -1)
