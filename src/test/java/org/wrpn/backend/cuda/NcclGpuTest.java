package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.dist.DeviceCollective;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * NCCL on the CUDA backend's stream, one rank (a GPU takes one rank): every collective of the
 * data-parallel job through DeviceCollective, whose results one rank knows exactly. Skipped where no
 * libnccl.so.2 is found (the device check points WRPN_NCCL_LIBRARY at PyTorch's).
 */
@Tag("gpu")
@Tag("nccl") // not on the emulated driver (EmulatedGpuRun): NCCL needs a real CUDA runtime
class NcclGpuTest {
    private static CudaBackend be;
    private static DeviceCollective c;

    @BeforeAll
    static void start() {
        be = Gpu.backendOrSkip();
        try {
            Nccl.load();
        } catch (BadInputException e) {
            assumeTrue(false, e.getMessage());
        }
        c = new DeviceCollective(be, be.communicator(0, 1, "127.0.0.1", 29500, Duration.ofSeconds(20)), 0, 1, Duration.ofSeconds(20));
    }

    @AfterAll
    static void stop() {
        if (c != null) c.close();
        if (be != null) be.close();
    }

    @Test
    void oneRankSumsBroadcastsAndWaitsWithoutChangingAnything() {
        System.out.println("NCCL: " + c.describe());
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.5f - 7;
        Tensor a = be.allocate(DType.F32, Shape.of(v.length));
        Tensor b = be.allocate(DType.F32, Shape.of(3));
        be.upload(v, a);
        be.upload(new float[] {1, 2, 3}, b);
        var bucket = c.bucket(List.of(a, b));
        bucket.start();
        bucket.await();
        float[] back = new float[v.length];
        be.download(a, back);
        assertArrayEquals(v, back, "a sum over one rank is the tensor");
        c.broadcast(List.of(a), 0);
        be.download(a, back);
        assertArrayEquals(v, back);
        double[] s = {1.0 / 3, 1e-9, 12345.678901234};
        double[] before = s.clone();
        c.sum(s);
        for (int i = 0; i < s.length; i++) assertEquals(before[i], s[i], Math.abs(before[i]) * 1e-12, "doubles as float pairs");
        long[] l = {Long.MIN_VALUE, -1, 42, Long.MAX_VALUE};
        c.broadcast(l, 0);
        assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 42, Long.MAX_VALUE}, l);
        c.barrier();
        assertTrue(c.describe().startsWith("NCCL "), c.describe());
        a.close();
        b.close();
    }
}
