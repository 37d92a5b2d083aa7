package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.QuantizedOpsContract;
import org.wrpn.tensor.Tensor;

/**
 * The CUDA layer kernels (conv, linear, batch norm, pooling, loss, SGD, ReLU) against the reference:
 * every check of LayerOpsContract, plus what only a GPU can show: repeated runs are bit for bit equal
 * (fixed reduction orders, no atomics), and the weight gradient's split-K path at real layer sizes.
 */
@Tag("gpu")
class CudaLayersGpuTest extends QuantizedOpsContract {
    @Override
    protected Backend open() {
        return Gpu.backendOrSkip();
    }

    private CudaBackend cuda() {
        return (CudaBackend) be;
    }

    /** resnet20-sized layers at batch 7 and 1: splits of the weight gradient, tiles past 64 channels. */
    @Test
    void convolutionAtLayerSizes() {
        ConvGeometry[] sizes = {
            new ConvGeometry(7, 32, 32, 32, 32, 3, 3, 1, 1),
            new ConvGeometry(7, 32, 32, 32, 64, 3, 3, 2, 1),
            new ConvGeometry(7, 16, 16, 64, 64, 1, 1, 2, 0),
            new ConvGeometry(1, 28, 28, 1, 33, 5, 5, 1, 2),
            new ConvGeometry(7, 8, 8, 130, 130, 3, 3, 1, 1),
        };
        for (ConvGeometry g : sizes) {
            if ((long) g.n() * g.outH() * g.outW() >= 4096) assertTrue(CudaSupport.wgradSplits(g) > 1, "splits at " + g);
            checkConv(g);
        }
    }

    @Test
    void resultsRepeatBitForBit() {
        ConvGeometry g = new ConvGeometry(7, 32, 32, 16, 16, 3, 3, 1, 1);
        float[] x = uniform(7 * 32 * 32 * 16, -1, 1), w = uniform(16 * 9 * 16, -1, 1), dy = uniform(7 * 32 * 32 * 16, -1, 1);
        Tensor tx = fx.f32(x, 7, 32, 32, 16), tw = fx.f32(w, 16, 3, 3, 16), tdy = fx.f32(dy, 7, 32, 32, 16);
        float[][] first = new float[3][], second = new float[3][];
        for (float[][] run : new float[][][] {first, second}) {
            Tensor y = fx.outF32(7, 32, 32, 16), dx = fx.outF32(7, 32, 32, 16), dw = fx.outF32(16, 3, 3, 16);
            be.conv2dForward(tx, tw, y, g);
            be.conv2dBackwardData(tdy, tw, dx, g);
            be.conv2dBackwardFilter(tx, tdy, dw, g);
            run[0] = fx.floats(y);
            run[1] = fx.floats(dx);
            run[2] = fx.floats(dw);
        }
        for (int i = 0; i < 3; i++) assertArrayEquals(first[i], second[i], "run-to-run, output " + i);
    }

    /** Op scratch (split-K partials, BN partials) is given back: a steady loop stops asking the driver. */
    @Test
    void scratchIsReturnedToTheAllocator() {
        ConvGeometry g = new ConvGeometry(7, 32, 32, 8, 8, 3, 3, 1, 1);
        Tensor x = fx.f32(uniform(7 * 32 * 32 * 8, -1, 1), 7, 32, 32, 8), dy = fx.f32(uniform(7 * 32 * 32 * 8, -1, 1), 7, 32, 32, 8);
        Tensor dw = fx.outF32(8, 3, 3, 8);
        long before = be.allocatedBytes();
        be.conv2dBackwardFilter(x, dy, dw, g);
        long asked = cuda().driverAllocations();
        for (int i = 0; i < 5; i++) be.conv2dBackwardFilter(x, dy, dw, g);
        cuda().synchronize();
        assertEquals(asked, cuda().driverAllocations());
        assertEquals(before, be.allocatedBytes());
    }
}
