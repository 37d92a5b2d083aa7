package org.wrpn.quant;

/**
 * Activations in the packed layout, for backends that compute in Java: the codes and the
 * straight-through mask of {@link Quantizer}, written and read by {@link PackedLayout}.
 * Tensors are pixels x C, row-major.
 */
public final class PackedActivations {
    /** Codes per scratch chunk: a chunk's codes stay in cache between quantizing and packing. */
    private static final int CHUNK = 4096;

    private PackedActivations() {}

    /**
     * Whether quantize+pack and unpack run on {@link VectorPack}: where the JVM was started with
     * {@code --add-modules jdk.incubator.vector} (every launcher of the project adds it), on a little-endian
     * machine with 8- or 16-float vectors, unless {@code -Dwrpn.vectorPack=false}. Elsewhere {@link PackKernels}
     * (plain loops, the same results, slower).
     */
    static final boolean VECTOR = vectorPackUsable();

    private static boolean vectorPackUsable() {
        if (!Boolean.parseBoolean(System.getProperty("wrpn.vectorPack", "true"))) return false;
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) return false;
        try {
            return VectorPack.usable();
        } catch (LinkageError e) { // the module resolved but not readable here: the plain loops
            return false;
        }
    }

    /**
     * Whether the JDK's Vector API serves here (the conditions of quantize+pack's fast path above); the CPU
     * backend's vectorised loops use the same switch.
     */
    public static boolean vectorApi() {
        return VECTOR;
    }

    /** Which implementation packs here: "vector (N floats)", "loops" or "scalar" (for `wrpn info` and benchmarks). */
    public static String implementation() {
        return VECTOR ? "vector (" + VectorPack.L + " floats)" : PackKernels.LITTLE_ENDIAN ? "loops" : "scalar";
    }

    private static int pixelsPerChunk(int channels) {
        return Math.max(1, CHUNK / channels);
    }

    /** Activation codes of x into words, and (where maskWords is not null) the 1-bit STE mask. */
    public static void quantizePack(float[] x, int pixels, int channels, int k, int[] words, int[] maskWords) {
        quantizePack(x, 0, pixels, channels, k, words, maskWords);
    }

    /** {@link #quantizePack} of the pixels [from, to) only (each pixel's words are its own: ranges run in parallel). */
    public static void quantizePack(float[] x, int from, int to, int channels, int k, int[] words, int[] maskWords) {
        quantizePackBlock(x, from * channels, to - from, channels, k, words, from, maskWords);
    }

    /**
     * Quantizes and packs a block of `pixels` pixels read from x[xOffset] (x need not be the whole tensor:
     * a scratch buffer of just these pixels will do) into the words of pixels [firstPixel, firstPixel +
     * pixels), and (where maskWords is not null) their 1-bit STE mask likewise.
     */
    public static void quantizePackBlock(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel,
            int[] maskWords) {
        PackedLayout.checkBits(k);
        if (VECTOR) {
            VectorPack.quantizePack(x, xOffset, pixels, channels, k, words, firstPixel, maskWords);
            return;
        }
        if (PackKernels.LITTLE_ENDIAN) {
            PackKernels.quantizePack(x, xOffset, pixels, channels, k, words, firstPixel, maskWords);
            return;
        }
        int wpp = PackedLayout.wordsPerPixel(channels, k);
        int mpp = PackedLayout.wordsPerPixel(channels, 1);
        int step = pixelsPerChunk(channels);
        int[] codes = new int[step * channels];
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0);
            int src = xOffset + p0 * channels, pixel = firstPixel + p0;
            Quantizer.activationCodes(x, src, n * channels, k, codes);
            PackedLayout.pack(codes, 0, n, channels, k, words, pixel * wpp);
            if (maskWords != null) {
                Quantizer.gradientMaskCodes(x, src, n * channels, codes);
                PackedLayout.pack(codes, 0, n, channels, 1, maskWords, pixel * mpp);
            }
        }
    }

    /** The activation values of packed k-bit codes. */
    public static void unpackValues(int[] words, int pixels, int channels, int k, float[] out) {
        unpackValues(words, 0, pixels, channels, k, out);
    }

    /** {@link #unpackValues} of the pixels [from, to) only. */
    public static void unpackValues(int[] words, int from, int to, int channels, int k, float[] out) {
        unpackValuesBlock(words, from, to - from, channels, k, out, from * channels);
    }

    /** The values of the pixels [firstPixel, firstPixel + pixels) of words into out from outOffset. */
    public static void unpackValuesBlock(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        PackedLayout.checkBits(k);
        if (VECTOR) {
            VectorPack.unpackValues(words, firstPixel, pixels, channels, k, out, outOffset);
            return;
        }
        if (PackKernels.LITTLE_ENDIAN) {
            PackKernels.unpackValues(words, firstPixel, pixels, channels, k, out, outOffset);
            return;
        }
        float[] value = new float[1 << k];
        for (int u = 0; u < value.length; u++) value[u] = Quantizer.activationValue(u, k);
        PackedLayout.unpack(words, firstPixel * PackedLayout.wordsPerPixel(channels, k), pixels, channels, k, value, out, outOffset);
    }

    /** The codes (u itself, not its value) of the pixels [firstPixel, firstPixel + pixels) as floats, into out from outOffset. */
    public static void unpackCodeFloatsBlock(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        PackedLayout.checkBits(k);
        if (VECTOR) {
            VectorPack.unpackCodeFloats(words, firstPixel, pixels, channels, k, out, outOffset);
            return;
        }
        float[] code = new float[1 << k];
        for (int u = 0; u < code.length; u++) code[u] = u;
        PackedLayout.unpack(words, firstPixel * PackedLayout.wordsPerPixel(channels, k), pixels, channels, k, code, out, outOffset);
    }

    /**
     * The codes of the pixels [firstPixel, firstPixel + pixels) of words as unsigned bytes (u in 0..255,
     * the byte's bits), into out from outOffset: what an integer kernel reads.
     */
    public static void unpackCodeBytesBlock(int[] words, int firstPixel, int pixels, int channels, int k, byte[] out, int outOffset) {
        PackedLayout.checkBits(k);
        if (PackKernels.LITTLE_ENDIAN) {
            PackKernels.unpackCodeBytes(words, firstPixel, pixels, channels, k, out, outOffset);
            return;
        }
        int[] codes = new int[pixels * channels];
        PackedLayout.unpack(java.util.Arrays.copyOfRange(words, firstPixel * PackedLayout.wordsPerPixel(channels, k),
                (firstPixel + pixels) * PackedLayout.wordsPerPixel(channels, k)), pixels, channels, k, codes);
        for (int i = 0; i < codes.length; i++) out[outOffset + i] = (byte) codes[i];
    }

    /**
     * Max pooling of packed k-bit codes over images [n0, n1) (h x w pixels, c channels, square windows) on the
     * Vector API: y the maxima's codes, arg each maximum's input element (the first of equal ones). False, having
     * done nothing, where the Vector API does not serve: the caller runs its own loop.
     */
    public static boolean maxPoolPacked(int[] x, int[] y, int[] arg, int h, int w, int c, int window, int stride, int pad,
            int outH, int outW, int k, int n0, int n1) {
        if (!VECTOR) return false;
        PackedLayout.checkBits(k);
        VectorPool.maxPool(x, y, arg, new VectorPool.Geometry(h, w, c, window, stride, pad, outH, outW), k, n0, n1);
        return true;
    }

    /** The STE backward from a packed 1-bit mask: dx = dy where the mask is set, else 0. */
    public static void maskGradient(int[] maskWords, int pixels, int channels, float[] dy, float[] dx) {
        maskGradient(maskWords, 0, pixels, channels, dy, dx);
    }

    /** {@link #maskGradient} of the pixels [from, to) only. */
    public static void maskGradient(int[] maskWords, int from, int to, int channels, float[] dy, float[] dx) {
        if (VECTOR) {
            VectorPack.maskGradient(maskWords, from, to - from, channels, dy, dx);
            return;
        }
        float[] bit = {0f, 1f};
        int mpp = PackedLayout.wordsPerPixel(channels, 1);
        int step = pixelsPerChunk(channels);
        float[] pass = new float[step * channels];
        for (int p0 = from; p0 < to; p0 += step) {
            int n = Math.min(step, to - p0);
            PackedLayout.unpack(maskWords, p0 * mpp, n, channels, 1, bit, pass, 0);
            int base = p0 * channels;
            // dy's bits ANDed with all ones or with zero: dy where the mask is set, else +0, without a
            // branch (a random mask defeats branch prediction; this loop vectorises).
            for (int i = 0; i < n * channels; i++) {
                dx[base + i] = Float.intBitsToFloat(Float.floatToRawIntBits(dy[base + i]) & -(int) pass[i]);
            }
        }
    }
}
