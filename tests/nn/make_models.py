# Writes the tiny ONNX models the nn tests use into DIR (argv[1]); run with Debian's python3-onnx.
# Nothing binary is committed: the tests make these at run time.
#   affine.onnx  y = 2*x + 1 on x[1,4]
#   conv.onnx    a 3x3 convolution of ones over x[1,1,4,4] (no padding): y[1,1,2,2]
#   two_in.onnx  y = a + b on a[1,3], b[1,3]
#   slow.onnx    x[N,N] multiplied by itself again and again (MatMul of two variable inputs, which OpenCV runs
#                unoptimised): seconds of CPU from a file of a few KB, for deadlines and cancels
#   weights.onnx y = x[1,512] @ W[512,512]: 1 MiB of weights, for the memory report
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
slow_n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
slow_layers = int(sys.argv[3]) if len(sys.argv) > 3 else 30


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, f"{out}/{name}")


f = TensorProto.FLOAT
save(helper.make_graph(
    [helper.make_node("Mul", ["x", "two"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"])], "affine",
    [helper.make_tensor_value_info("x", f, [1, 4])], [helper.make_tensor_value_info("y", f, [1, 4])],
    [helper.make_tensor("two", f, [1], [2.0]), helper.make_tensor("one", f, [1], [1.0])]), "affine.onnx")

save(helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])], "conv",
    [helper.make_tensor_value_info("x", f, [1, 1, 4, 4])], [helper.make_tensor_value_info("y", f, [1, 1, 2, 2])],
    [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")]), "conv.onnx")

save(helper.make_graph(
    [helper.make_node("Add", ["a", "b"], ["y"])], "two_in",
    [helper.make_tensor_value_info("a", f, [1, 3]), helper.make_tensor_value_info("b", f, [1, 3])],
    [helper.make_tensor_value_info("y", f, [1, 3])]), "two_in.onnx")

nodes, prev = [], "x"
for i in range(slow_layers):
    nodes.append(helper.make_node("MatMul", [prev, "x"], [f"m{i}"]))
    prev = f"m{i}"
nodes.append(helper.make_node("Identity", [prev], ["y"]))
save(helper.make_graph(
    nodes, "slow", [helper.make_tensor_value_info("x", f, [slow_n, slow_n])],
    [helper.make_tensor_value_info("y", f, [slow_n, slow_n])]), "slow.onnx")

save(helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["y"])], "weights",
    [helper.make_tensor_value_info("x", f, [1, 512])], [helper.make_tensor_value_info("y", f, [1, 512])],
    [numpy_helper.from_array(np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32), "w")]),
    "weights.onnx")
