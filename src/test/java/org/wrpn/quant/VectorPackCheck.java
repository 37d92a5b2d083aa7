package org.wrpn.quant;

/**
 * VectorPackTest's checks of {@link VectorPack} in a JVM of its own, started with narrower vectors than the
 * test JVM's (-XX:UseAVX=2: 8 floats a vector): prints the width and exits 0 when every check agrees with the
 * reference, 1 (with the first difference) otherwise.
 */
public final class VectorPackCheck {
    private VectorPackCheck() {}

    public static void main(String[] args) {
        if (!VectorPack.usable() || !PackedActivations.VECTOR) {
            System.out.println("VectorPackCheck: the vector path is off here (" + VectorPack.L + " floats a vector)");
            System.exit(1);
        }
        try {
            PackChecks.checkAll(PackChecks.Impl.VECTOR);
        } catch (AssertionError e) {
            System.out.println("VectorPackCheck: " + VectorPack.L + " floats a vector: " + e.getMessage());
            System.exit(1);
        }
        System.out.println("VectorPackCheck: " + VectorPack.L + " floats a vector, all agree");
    }
}
