"""A client's differentiable ONNX network as a torch module (issue 18, item 2, the first
path): every node is replayed with torch operations on tensors built from the graph's
initializers, so gradients flow and every method runs, gradient methods included, and
the engine batches it like a registry model.

Only a reviewed set of operators converts (``DIFFERENTIABLE_OPERATORS``: the ones
exporters emit for multilayer perceptrons and logistic models, normalisations and
elementwise activations); a graph with any other operator (a tree ensemble, a loop, a
lookup) is not converted and runs in onnxruntime instead (``explain.onnx_runtime``).
The caller accepts the conversion only when it reproduces onnxruntime on the baseline
and a sample of rows (``explain.onnx_models``).

Why not onnx2torch: it imports torchvision for two of its converters at import time,
and torchvision does not install beside the CPU torch wheel this service pins; the
operators a tabular network needs are few, and a closed list is also the safer
contract for files from clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from explain.errors import ExplainError

Op = Callable[[list[Any], dict[str, Any]], list[Any]]
_EPS = 1e-7


def _axes(inputs: list[Any], attrs: dict[str, Any]) -> list[int] | None:
    """Squeeze/Unsqueeze axes: an input from opset 13 on, an attribute before."""
    if len(inputs) > 1 and inputs[1] is not None:
        return [int(a) for a in _ints(inputs[1])]
    axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in axes]


def _ints(value: Any) -> list[int]:
    if isinstance(value, torch.Tensor):
        return [int(v) for v in value.reshape(-1).tolist()]
    return [int(v) for v in np.asarray(value).reshape(-1)]


def _gemm(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    a, b = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
    if plain and not attrs.get("transA", 0) and attrs.get("transB", 0):
        # what exporters write for nn.Linear: the same kernel as the registry's
        return [nn.functional.linear(a, b, bias)]
    if attrs.get("transA", 0):
        a = a.transpose(0, 1)
    if attrs.get("transB", 0):
        b = b.transpose(0, 1)
    out = attrs.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        out = out + attrs.get("beta", 1.0) * inputs[2]
    return [out]


def _squeeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, axes = inputs[0], _axes(inputs, attrs)
    if axes is None:
        return [x.squeeze()]
    for axis in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(axis)
    return [x]


def _unsqueeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, axes = inputs[0], _axes(inputs, attrs) or []
    rank = x.dim() + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return [x]


def _reshape(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, shape = inputs[0], _ints(inputs[1])
    # 0 copies the input's dimension (unless allowzero), -1 is inferred
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def _flatten(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, axis = inputs[0], int(attrs.get("axis", 1))
    axis %= max(x.dim(), 1)
    return [x.reshape(int(np.prod(x.shape[:axis])), -1)]


def _batch_norm(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, scale, bias, mean, var = inputs[:5]
    shape = [1, -1] + [1] * (x.dim() - 2)
    eps = attrs.get("epsilon", 1e-5)
    normed = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return [normed * scale.reshape(shape) + bias.reshape(shape)]


def _clip(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    low = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    high = inputs[2] if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    x = inputs[0]
    if low is not None:
        x = torch.maximum(x, torch.as_tensor(low, dtype=x.dtype, device=x.device))
    if high is not None:
        x = torch.minimum(x, torch.as_tensor(high, dtype=x.dtype, device=x.device))
    return [x]


def _cast(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    to = attrs.get("to")
    if to in (
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.DOUBLE,
        onnx.TensorProto.FLOAT16,
    ):
        return [inputs[0].to(torch.float32)]
    if to == onnx.TensorProto.INT64:
        return [inputs[0].to(torch.int64)]
    raise ExplainError(f"Cast to ONNX type {to} is not supported.")


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Op:
    return lambda inputs, attrs: [fn(inputs[0])]


def _binary(fn: Callable[[Any, Any], torch.Tensor]) -> Op:
    return lambda inputs, attrs: [fn(inputs[0], inputs[1])]


DIFFERENTIABLE_OPERATORS: dict[str, Op] = {
    "Gemm": _gemm,
    "MatMul": _binary(torch.matmul),
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(torch.div),
    "Pow": _binary(torch.pow),
    "Relu": _unary(torch.relu),
    "Sigmoid": _unary(torch.sigmoid),
    "Tanh": _unary(torch.tanh),
    "Softplus": _unary(nn.functional.softplus),
    "Exp": _unary(torch.exp),
    "Log": _unary(torch.log),
    "Neg": _unary(torch.neg),
    "Sqrt": _unary(torch.sqrt),
    "Erf": _unary(torch.erf),
    "Identity": _unary(lambda x: x),
    "LeakyRelu": lambda i, a: [nn.functional.leaky_relu(i[0], a.get("alpha", 0.01))],
    "Elu": lambda i, a: [nn.functional.elu(i[0], a.get("alpha", 1.0))],
    "Softmax": lambda i, a: [torch.softmax(i[0], dim=int(a.get("axis", -1)))],
    "Concat": lambda i, a: [torch.cat(list(i), dim=int(a["axis"]))],
    "Transpose": lambda i, a: [i[0].permute(*a["perm"]) if "perm" in a else i[0].T],
    # inference: dropout passes its input through (the mask output is not used)
    "Dropout": lambda i, a: [i[0]],
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "BatchNormalization": _batch_norm,
    "Clip": _clip,
    "Cast": _cast,
}


# nonlinearities replayed as one module per node: Captum's DeepLift applies its
# rescale rule through module hooks, as it does on the registry models' nn.ReLU
ACTIVATION_MODULES: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
    "Relu": lambda a: nn.ReLU(),
    "Sigmoid": lambda a: nn.Sigmoid(),
    "Tanh": lambda a: nn.Tanh(),
    "Elu": lambda a: nn.ELU(a.get("alpha", 1.0)),
    "LeakyRelu": lambda a: nn.LeakyReLU(a.get("alpha", 0.01)),
    "Softmax": lambda a: nn.Softmax(dim=int(a.get("axis", -1))),
}


def operators_convertible(operators: Iterable[str]) -> bool:
    """Whether every ``"domain:op_type"`` (as ``OnnxInfo.operators`` lists them, the
    subgraphs' included) is an operator this module replays."""
    return all(
        domain == "ai.onnx"
        and (op_type in DIFFERENTIABLE_OPERATORS or op_type == "Constant")
        for domain, _, op_type in (operator.partition(":") for operator in operators)
    )


def convertible(model: onnx.ModelProto) -> bool:
    """Whether every node of the graph is an operator this module replays."""
    return operators_convertible(
        f"{node.domain or 'ai.onnx'}:{node.op_type}" for node in model.graph.node
    )


def _tensor(proto: onnx.TensorProto) -> torch.Tensor:
    array = numpy_helper.to_array(proto)
    if array.dtype.kind == "f":
        return torch.from_numpy(np.array(array, dtype=np.float32))
    return torch.from_numpy(np.array(array, dtype=np.int64))


class OnnxTorchModel(nn.Module):
    """The graph replayed in torch; ``forward`` gives the scored class's logit [N].

    The declared output is a logit ([N], [N, 1], or [N, 2] two-class logits: their
    difference) or a probability of the scored class. For a probability made by a
    final Sigmoid (or a two-class Softmax) the logit is read before it, exactly;
    otherwise it is log(p) - log(1 - p).
    """

    differentiable = True
    execution = "onnx_torch"

    def __init__(
        self, data: bytes, *, output_index: int = 0, output_kind: str = "logit"
    ) -> None:
        super().__init__()
        model = onnx.ModelProto()
        model.ParseFromString(data)
        if not convertible(model):
            raise ExplainError("The graph has operators that do not convert to torch.")
        graph = model.graph
        self.input_name = graph.input[0].name
        self.constants: dict[str, torch.Tensor] = {}
        for i, proto in enumerate(graph.initializer):
            tensor = _tensor(proto)
            if tensor.is_floating_point():
                # parameters (not buffers): they move with the module and carry
                # gradients like the registry models' weights
                parameter = nn.Parameter(tensor, requires_grad=False)
                self.register_parameter(f"initializer_{i}", parameter)
                self.constants[proto.name] = parameter
            else:
                self.constants[proto.name] = tensor
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        self.activations = nn.ModuleDict()
        for node in graph.node:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Constant":
                value = attrs.get("value")
                if value is None:
                    raise ExplainError("Only tensor-valued Constant nodes convert.")
                self.constants[node.output[0]] = _tensor(value)
                continue
            if node.op_type in ACTIVATION_MODULES:
                key = f"node_{len(self.nodes)}"
                self.activations[key] = ACTIVATION_MODULES[node.op_type](attrs)
                attrs = {**attrs, "_module": key}
            self.nodes.append(
                (node.op_type, list(node.input), list(node.output), attrs)
            )
        outputs = [o.name for o in graph.output]
        if not 0 <= output_index < len(outputs):
            raise ExplainError(f"The model has no output {output_index}.")
        self.output_kind = output_kind
        self.output_name, self.logit_source = self._logit_source(
            outputs[output_index], output_kind
        )

    def _logit_source(self, name: str, kind: str) -> tuple[str, str]:
        """Where the logit is read: the output itself, or the input of its final
        Sigmoid / two-class Softmax when the output is a probability."""
        if kind != "probability":
            return name, "logit"
        for op, inputs, outputs, _attrs in self.nodes:
            if outputs and outputs[0] == name:
                if op == "Sigmoid":
                    return inputs[0], "logit"
                if op == "Softmax":
                    return inputs[0], "softmax_input"
        return name, "probability"

    def _run(self, x: torch.Tensor, wanted: str) -> torch.Tensor:
        device = x.device
        values: dict[str, Any] = {"": None, self.input_name: x.to(torch.float32)}
        if self.constants and next(iter(self.constants.values())).device == device:
            values.update(self.constants)
        else:
            for name, tensor in self.constants.items():
                values[name] = tensor.to(device)
        for op, inputs, outputs, attrs in self.nodes:
            if "_module" in attrs:
                results = [self.activations[attrs["_module"]](values[inputs[0]])]
            else:
                results = DIFFERENTIABLE_OPERATORS[op](
                    [values[i] for i in inputs], attrs
                )
            for name, result in zip(outputs, results, strict=False):
                values[name] = result
            if wanted in outputs:
                break
        return values[wanted]  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = self._run(x, self.output_name)
        if self.logit_source == "softmax_input":
            return _two_columns(value, "softmax")[1] - _two_columns(value, "softmax")[0]
        if value.dim() == 2 and value.shape[1] == 2:
            if self.logit_source == "logit":
                return value[:, 1] - value[:, 0]
            value = value[:, 1]
        value = value.reshape(-1) if value.dim() != 1 else value
        if self.logit_source == "probability":
            p = value.clamp(_EPS, 1.0 - _EPS)
            return torch.log(p) - torch.log1p(-p)
        return value

    @torch.no_grad()
    def declared_output(self, x: torch.Tensor) -> np.ndarray:
        """The scored class's value as the model declares it (probability or logit),
        to compare with onnxruntime's."""
        logit = self.forward(x).to(torch.float64)
        if self.output_kind == "probability":
            return torch.sigmoid(logit).cpu().numpy()
        return logit.cpu().numpy()


def _two_columns(value: torch.Tensor, what: str) -> Sequence[torch.Tensor]:
    if value.dim() != 2 or value.shape[1] != 2:
        raise ExplainError(f"A {what} over {tuple(value.shape)} is not two-class.")
    return value[:, 0], value[:, 1]
