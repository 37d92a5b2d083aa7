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
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;

/**
 * PackedLayout.pack/unpack: the layout's reference implementation (int codes in, words out), used by
 * tests and tooling. Scores are elements per second (one operation = one element).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class PackedLayoutBench {
    @Param({"1", "2", "4", "8"})
    int bits;

    int[] codes;
    int[] words;
    int[] unpacked;

    @Setup
    public void setup() {
        float[] x = Shapes.activations();
        codes = new int[Shapes.ELEMENTS];
        for (int i = 0; i < codes.length; i++) codes[i] = Quantizer.activationCode(x[i], bits);
        words = new int[Shapes.PIXELS * PackedLayout.wordsPerPixel(Shapes.CHANNELS, bits)];
        unpacked = new int[Shapes.ELEMENTS];
        PackedLayout.pack(codes, Shapes.PIXELS, Shapes.CHANNELS, bits, words);
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public int[] pack() {
        PackedLayout.pack(codes, Shapes.PIXELS, Shapes.CHANNELS, bits, words);
        return words;
    }

    @Benchmark
    @OperationsPerInvocation(Shapes.ELEMENTS)
    public int[] unpack() {
        PackedLayout.unpack(words, Shapes.PIXELS, Shapes.CHANNELS, bits, unpacked);
        return unpacked;
    }
}
