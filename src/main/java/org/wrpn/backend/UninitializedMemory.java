package org.wrpn.backend;

/**
 * What an uninitialized tensor holds: whatever its memory held before (a freed tensor's data), or,
 * with {@code -Dwrpn.poisonUninitialized=true} (the test suite sets it), every byte 0xFF — NaN as
 * fp32, -1 as integers, the largest code in every packed slot — so that an op reading such a tensor
 * before another op has written all of it makes the step's results wrong and the tests fail.
 */
public final class UninitializedMemory {
    private UninitializedMemory() {}

    public static final boolean POISON = Boolean.getBoolean("wrpn.poisonUninitialized");

    /** The poison byte, and the same bytes read as an int and as a float (a NaN). */
    public static final byte POISON_BYTE = (byte) 0xFF;
    public static final int POISON_INT = -1;
    public static final float POISON_FLOAT = Float.intBitsToFloat(POISON_INT);
}
