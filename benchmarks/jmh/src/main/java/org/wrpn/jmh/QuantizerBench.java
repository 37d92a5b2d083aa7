package org.wrpn.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.wrpn.quant.Quantizer;

/**
 * The scalar quantizer contract (org.wrpn.quant.Quantizer) over a whole tensor: activation codes,
 * weight codes, and whole-tensor weight quantization (k = 1: sign(w)·mean|w|, two passes). Scores are
 * elements per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class QuantizerBench {
    @Param({"1", "2", "4", "8"})
    int bits;

    float[] acts;
    float[] weights;
    int[] codes;
    float[] out;

    @Setup
    public void setup() {
        acts = Shapes.activations();
        weights = Shapes.weights();
        codes = new int[Shapes.ELEMENTS];
        out = new float[Shapes.ELEMENTS];
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public int[] activationCodes() {
        for (int i = 0; i < acts.length; i++) codes[i] = Quantizer.activationCode(acts[i], bits);
        return codes;
    }

    /** Weight codes exist for k in {2, 4, 8}; at k = 1 this times the binary code (sign). */
    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public int[] weightCodes() {
        if (bits == 1) {
            for (int i = 0; i < weights.length; i++) codes[i] = Quantizer.binaryCode(weights[i]);
        } else {
            for (int i = 0; i < weights.length; i++) codes[i] = Quantizer.weightCode(weights[i], bits);
        }
        return codes;
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public float[] quantizeWeights() {
        Quantizer.quantizeWeights(weights, 0, weights.length, bits, out, 0);
        return out;
    }
}
