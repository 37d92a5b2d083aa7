// Host-side helpers shared by the checks of the conv variants: conv_bench.cu (on a GPU) and
// native/emu/check_conv_variants.cpp (under the emulator). Layouts as in conv_variants.cuh.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

struct ConvShape {
    int n, h, w, cin, cout, k, s, p;
    int oh() const { return (h + 2 * p - k) / s + 1; }
    int ow() const { return (w + 2 * p - k) / s + 1; }
    std::string str() const {
        char b[128];
        std::snprintf(b, sizeof b, "n%d %dx%dx%d->%d k%d s%d p%d", n, h, w, cin, cout, k, s, p);
        return b;
    }
};

// Codes u (pixels x cin, row-major) packed at `bits` bits: wpp = ceil(cin*bits/32) words a pixel.
inline std::vector<uint32_t> pack_codes(const std::vector<int>& u, long pixels, int cin, int bits) {
    const int wpp = (cin * bits + 31) / 32;
    std::vector<uint32_t> x(pixels * wpp, 0);
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < cin; c++) x[p * wpp + (c * bits) / 32] |= (uint32_t)u[p * cin + c] << ((c * bits) % 32);
    return x;
}

// Weight codes s (cout, taps, cin) as int8 (cout, taps, cin4), cin4 = cin rounded up to 4, zero padded.
inline std::vector<int8_t> weights_s8(const std::vector<int>& s, int cout, int taps, int cin) {
    const int cin4 = (cin + 3) / 4 * 4;
    std::vector<int8_t> w((size_t)cout * taps * cin4, 0);
    for (long r = 0; r < (long)cout * taps; r++)
        for (int c = 0; c < cin; c++) w[r * cin4 + c] = (int8_t)s[r * cin + c];
    return w;
}

// The exact integer sum of output o = ((n * OH + oy) * OW + ox) * cout + co.
inline long long conv_acc(const ConvShape& g, const std::vector<int>& u, const std::vector<int>& s, long o) {
    const int OH = g.oh(), OW = g.ow();
    const int co = (int)(o % g.cout);
    const long r = o / g.cout;
    const int ox = (int)(r % OW), oy = (int)(r / OW % OH), n = (int)(r / OW / OH);
    long long a = 0;
    for (int ky = 0; ky < g.k; ky++)
        for (int kx = 0; kx < g.k; kx++) {
            const int iy = oy * g.s - g.p + ky, ix = ox * g.s - g.p + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            for (int c = 0; c < g.cin; c++)
                a += (long long)u[(((long)n * g.h + iy) * g.w + ix) * g.cin + c] * s[(((long)co * g.k + ky) * g.k + kx) * g.cin + c];
        }
    return a;
}
