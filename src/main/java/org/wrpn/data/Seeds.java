package org.wrpn.data;

import java.util.SplittableRandom;

/** Derives independent random streams from (seed, stream, epoch, position) with a strong 64-bit mix. */
final class Seeds {
    static final long ORDER = 1;
    static final long AUGMENT = 2;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private Seeds() {}

    /** SplitMix64 finalizer (Stafford variant 13). */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static long derive(long seed, long stream, long epoch, long position) {
        long h = mix64(seed + GOLDEN);
        h = mix64(h + stream * GOLDEN);
        h = mix64(h ^ (epoch + GOLDEN));
        return mix64(h ^ (position * GOLDEN + 0x632BE59BD9B4E019L));
    }

    static SplittableRandom random(long seed, long stream, long epoch, long position) {
        return new SplittableRandom(derive(seed, stream, epoch, position));
    }
}
