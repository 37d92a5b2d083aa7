package org.wrpn.backend.cpu;

/** Length checks of the CPU ops' arrays: a mismatch fails loudly instead of computing on a prefix. */
final class ArrayChecks {
    private ArrayChecks() {}

    static void sameLength(float[] a, float[] b, String what) {
        if (a.length != b.length) throw new IllegalArgumentException(what + ": length " + a.length + " != " + b.length);
    }

    static void expectLength(float[] a, long n, String what) {
        expectLength(a.length, n, what);
    }

    static void expectLength(int[] a, long n, String what) {
        expectLength(a.length, n, what);
    }

    private static void expectLength(int length, long n, String what) {
        if (length != n) throw new IllegalArgumentException(what + ": expected " + n + " elements, got " + length);
    }
}
