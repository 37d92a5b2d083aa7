package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Which quantized fprop kernel QuantizedConvOps launches: pure Java, no driver. */
class QuantizedKernelChoiceTest {
    @Test
    void tensorCoresTakeCodesTimesCodesWhereCinIsAMultipleOf32() {
        assertTrue(CudaSupport.fpropTensorCores(32));
        assertTrue(CudaSupport.fpropTensorCores(96));
        assertFalse(CudaSupport.fpropTensorCores(0));
        assertFalse(CudaSupport.fpropTensorCores(48));
        assertEquals("qconv2d_fprop_pk_s8_mma_n32", QuantizedConvOps.fpropKernel(true, true, 64, 20));
        assertEquals("qconv2d_fprop_pk_s8_mma_n16", QuantizedConvOps.fpropKernel(true, true, 32, 3));
        assertEquals("qconv2d_fprop_pk_s8_mma_n64", QuantizedConvOps.fpropKernel(true, true, 32, 300));
        // the rest keeps the SIMT kernels: dp4a for cin % 4 == 0, else one code per k; fp32 operands
        assertEquals("qconv2d_fprop_pk_s8_dp4a_n32", QuantizedConvOps.fpropKernel(true, true, 64, 20, false));
        assertEquals("qconv2d_fprop_pk_s8_dp4a_n16", QuantizedConvOps.fpropKernel(true, true, 48, 16));
        assertEquals("qconv2d_fprop_pk_s8_s32_n16", QuantizedConvOps.fpropKernel(true, true, 33, 16));
        assertEquals("qconv2d_fprop_pk_f32_f32_n32", QuantizedConvOps.fpropKernel(true, false, 32, 32));
        assertEquals("qconv2d_fprop_f32_s8_f32_n64", QuantizedConvOps.fpropKernel(false, true, 32, 64));
    }

    @Test
    void theLaunchTileIsTheKernels() throws IOException {
        Matcher m = Pattern.compile("#define QMMA_BM (\\d+)").matcher(Files.readString(Path.of("cuda/qconv.cu")));
        assertTrue(m.find(), "QMMA_BM in cuda/qconv.cu");
        assertEquals(Integer.parseInt(m.group(1)), CudaSupport.MMA_PIXEL_TILE);
    }
}
