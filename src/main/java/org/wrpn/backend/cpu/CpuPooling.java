package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

import java.util.Arrays;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.quant.PackedActivations;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.Shape;

/** Max pooling (with the argmax its backward scatters through) and global average pooling, NHWC. */
final class CpuPooling {
    private CpuPooling() {}

    static void maxForward(float[] x, float[] y, int[] arg, PoolGeometry g) {
        int oh = g.outH(), ow = g.outW(), c = g.c();
        expectLength(x, (long) g.n() * g.h() * g.w() * c, "maxPool input");
        expectLength(y, (long) g.n() * oh * ow * c, "maxPool output");
        CpuThreads.forRange(g.n(), Math.max(1, CpuElementwise.GRAIN / Math.max(1, g.h() * g.w() * c)),
                (n0, n1) -> maxForward(x, y, arg, g, n0, n1));
    }

    /** Images [n0, n1) of maxForward. */
    private static void maxForward(float[] x, float[] y, int[] arg, PoolGeometry g, int n0, int n1) {
        int oh = g.outH(), ow = g.outW(), c = g.c();
        for (int n = n0; n < n1; n++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    int o = ((n * oh + oy) * ow + ox) * c;
                    boolean first = true;
                    // window cells in row-major order; per cell a contiguous channel vector, so the first
                    // maximum wins ties and padding never takes part
                    for (int ky = 0; ky < g.window(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        if (iy < 0 || iy >= g.h()) continue;
                        for (int kx = 0; kx < g.window(); kx++) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (ix < 0 || ix >= g.w()) continue;
                            int base = ((n * g.h() + iy) * g.w() + ix) * c;
                            if (first) {
                                for (int ch = 0; ch < c; ch++) {
                                    y[o + ch] = x[base + ch];
                                    arg[o + ch] = base + ch;
                                }
                                first = false;
                            } else {
                                // v > cur taken without a branch (random data mispredicts half the time):
                                // v > cur exactly when v - cur > 0 (equal values give +-0, any NaN gives NaN)
                                for (int ch = 0; ch < c; ch++) {
                                    float v = x[base + ch], cur = y[o + ch];
                                    int m = CpuElementwise.positiveMask(Float.floatToRawIntBits(v - cur));
                                    y[o + ch] = Float.intBitsToFloat(Float.floatToRawIntBits(v) & m | Float.floatToRawIntBits(cur) & ~m);
                                    arg[o + ch] = (base + ch) & m | arg[o + ch] & ~m;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** maxForward on packed k-bit codes (codes compare as their values do); y is packed codes too. */
    static void maxForwardPacked(int[] x, int[] y, int[] arg, PoolGeometry g, int k) {
        int oh = g.outH(), ow = g.outW(), c = g.c(), wpp = PackedLayout.wordsPerPixel(c, k);
        expectLength(x, (long) g.n() * g.h() * g.w() * wpp, "maxPoolPacked input words");
        expectLength(y, (long) g.n() * oh * ow * wpp, "maxPoolPacked output words");
        expectLength(arg, (long) g.n() * oh * ow * c, "maxPoolPacked argmax");
        CpuThreads.forRange(g.n(), Math.max(1, CpuElementwise.GRAIN / Math.max(1, g.h() * g.w() * c)),
                (n0, n1) -> maxForwardPacked(x, y, arg, g, k, n0, n1));
    }

    private static void maxForwardPacked(int[] x, int[] y, int[] arg, PoolGeometry g, int k, int n0, int n1) {
        if (PackedActivations.maxPoolPacked(x, y, arg, g.h(), g.w(), g.c(), g.window(), g.stride(), g.pad(), g.outH(), g.outW(), k,
                n0, n1)) {
            return;
        }
        int oh = g.outH(), ow = g.outW(), c = g.c(), per = 32 / k, wpp = PackedLayout.wordsPerPixel(c, k), mask = (1 << k) - 1;
        int[] best = new int[c];
        for (int n = n0; n < n1; n++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    int op = (n * oh + oy) * ow + ox, o = op * c;
                    boolean first = true;
                    for (int ky = 0; ky < g.window(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        if (iy < 0 || iy >= g.h()) continue;
                        for (int kx = 0; kx < g.window(); kx++) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (ix < 0 || ix >= g.w()) continue;
                            int pixel = (n * g.h() + iy) * g.w() + ix, words = pixel * wpp, base = pixel * c;
                            for (int w = 0, ch = 0; w < wpp; w++) {
                                int word = x[words + w];
                                for (int shift = 0; shift < 32 && ch < c; shift += k, ch++) {
                                    int code = word >>> shift & mask;
                                    // code > best without a branch (the first maximum wins, as on the values)
                                    int m = first ? -1 : (best[ch] - code) >> 31;
                                    best[ch] ^= (best[ch] ^ code) & m;
                                    arg[o + ch] ^= (arg[o + ch] ^ (base + ch)) & m;
                                }
                            }
                            first = false;
                        }
                    }
                    for (int w = 0; w < wpp; w++) {
                        int word = 0;
                        for (int j = 0, ch = w * per; j < per && ch < c; j++, ch++) word |= best[ch] << (j * k);
                        y[op * wpp + w] = word;
                    }
                }
            }
        }
    }

    static void maxBackward(float[] dy, int[] arg, float[] dx) {
        Arrays.fill(dx, 0f);
        for (int o = 0; o < dy.length; o++) dx[arg[o]] += dy[o];
    }

    /** (n, h, w, c) to (n, c): per image and channel a mean accumulated in double. */
    static void globalAvgForward(float[] x, Shape s, float[] y) {
        int n = s.dim(0), c = s.channels();
        int hw = (int) (s.elements() / ((long) n * c));
        expectLength(y, (long) n * c, "globalAvgPool output");
        double[] acc = new double[c];
        for (int i = 0; i < n; i++) {
            Arrays.fill(acc, 0);
            for (int p = 0; p < hw; p++) {
                int base = (i * hw + p) * c;
                for (int ch = 0; ch < c; ch++) acc[ch] += x[base + ch];
            }
            for (int ch = 0; ch < c; ch++) y[i * c + ch] = (float) (acc[ch] / hw);
        }
    }

    /** Spreads dy (n, c) evenly over the pixels of dx (shape s). */
    static void globalAvgBackward(float[] dy, float[] dx, Shape s) {
        int n = s.dim(0), c = s.channels();
        int hw = (int) (s.elements() / ((long) n * c));
        float inv = 1f / hw;
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < hw; p++) {
                int base = (i * hw + p) * c;
                for (int ch = 0; ch < c; ch++) dx[base + ch] = dy[i * c + ch] * inv;
            }
        }
    }
}
