package org.wrpn.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The process environment that native libraries read (getenv(3)), which Java's System.getenv only
 * shows as it was at start-up: set here, before the library reads it, through the C library's setenv.
 */
public final class NativeEnvironment {
    private NativeEnvironment() {}

    /** setenv(3); overwrite false keeps a value already there. Throws IllegalStateException if it fails. */
    public static void set(String name, String value, boolean overwrite) {
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), overwrite ? 1 : 0);
            if (rc != 0) throw new IllegalStateException("setenv " + name + " returned " + rc);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("setenv " + name + ": " + e, e);
        }
    }
}
