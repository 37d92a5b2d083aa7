package org.wrpn.export;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.AttributeProto.AttributeType;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/** An ONNX graph under construction: nodes in order, initializers (raw little-endian data), unique names. */
final class OnnxGraph {
    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Set<String> names = new HashSet<>();

    OnnxGraph(String name, String doc) {
        graph.setName(name).setDocString(doc);
    }

    GraphProto build() {
        return graph.build();
    }

    /** name, or name with a numeric suffix when it is taken. */
    String unique(String name) {
        String n = name;
        for (int i = 1; !names.add(n); i++) n = name + "_" + i;
        return n;
    }

    /** A float32 tensor input or output with a symbolic batch dimension first. */
    static ValueInfoProto floatValue(String name, String batch, int... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(batch));
        for (int d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        TypeProto.Tensor t = TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.getNumber()).setShape(shape).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(t)).build();
    }

    void input(ValueInfoProto v) {
        names.add(v.getName());
        graph.addInput(v);
    }

    void output(ValueInfoProto v) {
        graph.addOutput(v);
    }

    /** Adds a node; its output gets a unique name derived from output and is returned. */
    String node(String op, String output, String[] inputs, AttributeProto... attributes) {
        String out = unique(output);
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(out).addOutput(out);
        for (String in : inputs) n.addInput(in);
        for (AttributeProto a : attributes) n.addAttribute(a);
        graph.addNode(n);
        return out;
    }

    /** A node writing exactly the name output (the graph's output). */
    void namedNode(String op, String output, String... inputs) {
        names.add(output);
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(output).addOutput(output);
        for (String in : inputs) n.addInput(in);
        graph.addNode(n);
    }

    String floats(String name, float[] values, int... dims) {
        ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return initializer(name, DataType.FLOAT, b.array(), dims);
    }

    String int8(String name, byte[] values, int... dims) {
        return initializer(name, DataType.INT8, values, dims);
    }

    String uint8(String name, byte[] values, int... dims) {
        return initializer(name, DataType.UINT8, values, dims);
    }

    private String initializer(String name, DataType type, byte[] raw, int... dims) {
        String n = unique(name);
        TensorProto.Builder t = TensorProto.newBuilder().setName(n).setDataType(type.getNumber()).setRawData(ByteString.copyFrom(raw));
        for (int d : dims) t.addDims(d);
        graph.addInitializer(t);
        return n;
    }

    static AttributeProto ints(String name, int... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
        for (int v : values) a.addInts(v);
        return a.build();
    }

    static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(value).build();
    }
}
