package org.wrpn.backend.cuda;

import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.Device;

/**
 * What the CUDA backend implements, and the launch rules that decide its scratch memory. Pure Java
 * (no driver classes), so that backend selection and the memory planner can ask without loading
 * JCuda.
 */
public final class CudaSupport {
    private CudaSupport() {}

    /** Rows of the GEMM tiles of cuda/gemm.cuh (M and N are both 64). */
    static final int GEMM_TILE = 64;
    /** k-slice of the GEMM main loop: a split-K range is a multiple of it. */
    static final int GEMM_K_SLICE = 16;
    /** wgrad splits its reduction over output pixels only when it has at least this many. */
    static final int SPLIT_MIN_PIXELS = 4096;
    /** Output pixels per split at least. */
    static final int SPLIT_PIXELS = 2048;
    static final int MAX_SPLITS = 64;
    /** wgrad aims at this many blocks (tiles x splits) when it splits: about two waves of a large GPU. */
    static final int SPLIT_TARGET_BLOCKS = 256;
    static final int BN_MAX_CHUNKS = 128;
    static final int BN_ROWS_PER_CHUNK = 512;

    /**
     * How many k-ranges conv2d_wgrad splits its sum over the n*outH*outW output pixels into: enough
     * blocks to fill a large GPU when the (cout x patch) tiles alone are few, never a range under
     * 2048 pixels, at most 64. A function of the geometry alone, so results do not depend on the card.
     */
    public static int wgradSplits(ConvGeometry g) {
        long pixels = (long) g.n() * g.outH() * g.outW();
        if (pixels < SPLIT_MIN_PIXELS) return 1;
        long tiles = tiles(g.cout()) * tiles(g.patch());
        long wanted = Math.min(pixels / SPLIT_PIXELS, (SPLIT_TARGET_BLOCKS + tiles - 1) / tiles);
        int splits = (int) Math.max(1, Math.min(MAX_SPLITS, wanted));
        if (splits == 1) return 1;
        long per = wgradPixelsPerSplit(pixels, splits);
        return (int) ((pixels + per - 1) / per);
    }

    /** Output pixels per wgrad split: a multiple of the GEMM k-slice. */
    static long wgradPixelsPerSplit(long pixels, int splits) {
        long per = (pixels + splits - 1) / splits;
        return (per + GEMM_K_SLICE - 1) / GEMM_K_SLICE * GEMM_K_SLICE;
    }

    private static long tiles(long n) {
        return (n + GEMM_TILE - 1) / GEMM_TILE;
    }

    /**
     * Device scratch one pass of a convolution of this geometry takes from the allocator: the weight
     * gradient's split-K partial sums, or nothing (fprop and dgrad need none). The memory planner
     * declares the same bytes.
     */
    public static long convWorkspaceBytes(ConvGeometry g, Device.ConvPass pass) {
        return pass == Device.ConvPass.BACKWARD_FILTER ? wgradWorkspaceBytes(g) : 0;
    }

    /** The weight gradient's split-K partial sums ([splits][cout][patch] floats), or nothing when it does not split. */
    static long wgradWorkspaceBytes(ConvGeometry g) {
        int splits = wgradSplits(g);
        return splits > 1 ? 4L * splits * g.cout() * g.patch() : 0;
    }

    /**
     * Output channels of a tile of the quantized fprop (cuda/qconv.cu): the smallest of 16, 32 and 64
     * that holds cout, so a narrow layer does not leave most of a 64-wide tile idle.
     */
    static int fpropChannelTile(int cout) {
        return cout <= 16 ? 16 : cout <= 32 ? 32 : 64;
    }

    /** Output pixels of that tile: 4096 / channels (256 threads, 4 x 4 outputs each). */
    static int fpropPixelTile(int channelTile) {
        return 4096 / channelTile;
    }

    /** Output pixels of a tile of the tensor-core fprop: 8 warps of 16 rows (QMMA_BM of cuda/qconv.cu). */
    static final int MMA_PIXEL_TILE = 128;

    /**
     * Whether the integer forward (packed activation codes x int8 weight codes) runs on int8 tensor cores,
     * cuda/qconv.cu's pk_s8_mma (mma.m16n8k32 u8 x s8, sm_80+, which the PTX targets anyway): when cin is
     * a positive multiple of 32, so that each k-chunk of 32 is 32 channels of one tap, word-aligned in
     * the packed codes and in the weight rows. Any cout (the last channel tile is masked). Otherwise
     * dp4a (cin % 4 == 0) or the scalar int32 kernel. The sums are exact either way: same bits.
     */
    static boolean fpropTensorCores(int cin) {
        return cin > 0 && cin % 32 == 0;
    }

    /**
     * Device scratch of one batch-norm op: the training statistics' partial sums and mean (8 bytes per
     * chunk and channel, and 8 per channel), the backward's partial sums and coefficients (16 and 12),
     * inference's coefficients (8 per channel). The memory planner declares the same bytes.
     */
    public static long batchNormScratchBytes(long rows, int channels, Device.BatchNormPass pass) {
        int chunks = bnChunks(rows);
        return switch (pass) {
            case TRAIN -> 8L * chunks * channels + 8L * channels;
            case BACKWARD -> 16L * chunks * channels + 12L * channels;
            case INFERENCE -> 8L * channels;
            case BACKWARD_APPLY -> 12L * channels;
        };
    }

    /** Device scratch of the softmax cross-entropy: a double loss and an int hit per sample. */
    public static long lossScratchBytes(int n) {
        return 12L * n;
    }

    /** Row ranges of batch norm's per-channel reductions: a function of the row count alone. */
    static int bnChunks(long rows) {
        return (int) Math.max(1, Math.min(BN_MAX_CHUNKS, (rows + BN_ROWS_PER_CHUNK - 1) / BN_ROWS_PER_CHUNK));
    }
}
