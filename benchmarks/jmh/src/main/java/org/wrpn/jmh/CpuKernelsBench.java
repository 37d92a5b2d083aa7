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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CPU backend's activation kernels as training runs them (no convolution, so oneDNN is not
 * loaded): fused quantize+pack with the 1-bit STE mask, unpack to fp32 values, and the unpacked
 * fake-quantizer. Scores are elements per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class CpuKernelsBench {
    @Param({"1", "2", "4", "8"})
    int bits;

    CpuBackend be;
    Tensor x;
    Tensor y;
    Tensor packed;
    Tensor mask;

    @Setup
    public void setup() {
        be = new CpuBackend();
        Shape s = Shape.of(Shapes.PIXELS, Shapes.CHANNELS);
        x = be.allocate(DType.F32, s);
        y = be.allocate(DType.F32, s);
        packed = be.allocatePacked(s, bits);
        mask = be.allocatePacked(s, 1);
        be.upload(Shapes.activations(), x);
        be.quantizePack(x, bits, packed, mask);
    }

    @TearDown
    public void tearDown() {
        be.close();
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public Tensor quantizePack() {
        be.quantizePack(x, bits, packed, mask);
        return packed;
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public Tensor unpackValues() {
        be.unpackValues(packed, y);
        return y;
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public Tensor quantizeActivations() {
        be.quantizeActivations(x, bits, y);
        return y;
    }
}
