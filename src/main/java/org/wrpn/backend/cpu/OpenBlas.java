package org.wrpn.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.Loader;

/**
 * OpenBLAS, the CPU backend's GEMM ({@link BlasGemm}) and the keeper of its thread count
 * ({@link CpuThreads#get}): the libopenblas of the org.bytedeco:openblas preset, loaded from the
 * preset's jar by JavaCPP (the BLAS part, openblas_nolapack: the same libopenblas.so.0, saved as
 * libopenblas_nolapack.so.0, without the 24 MB LAPACK JNI library), after
 * {@link CpuThreads#quietWorkers} has set its environment. Its thread functions are called through
 * the FFM linker (they run on every parallel loop, and the preset binds them only in its
 * LAPACK-carrying variant), looked up from the JNI library that binds cblas_sgemm: the preset's
 * LAPACK variant, which OpenCV's preset loads, brings a second copy of libopenblas, and the thread
 * count that matters is the one of the copy the GEMMs run on.
 */
final class OpenBlas {
    private OpenBlas() {}

    private static final MethodHandle GET_NUM_THREADS, SET_NUM_THREADS, GET_CONFIG, GET_CORENAME;

    static {
        CpuThreads.quietWorkers();
        String jni = Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
        Linker linker = Linker.nativeLinker();
        // dlsym on the JNI library's handle searches it and what it links: the libopenblas of cblas_sgemm
        SymbolLookup lib = jni != null && Files.isRegularFile(Path.of(jni)) ? SymbolLookup.libraryLookup(Path.of(jni), Arena.global())
                : SymbolLookup.loaderLookup();
        GET_NUM_THREADS = linker.downcallHandle(symbol(lib, "openblas_get_num_threads"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
        SET_NUM_THREADS = linker.downcallHandle(symbol(lib, "openblas_set_num_threads"), FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        GET_CONFIG = linker.downcallHandle(symbol(lib, "openblas_get_config"), FunctionDescriptor.of(ValueLayout.ADDRESS));
        GET_CORENAME = linker.downcallHandle(symbol(lib, "openblas_get_corename"), FunctionDescriptor.of(ValueLayout.ADDRESS));
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("OpenBLAS loaded without " + name));
    }

    /** Loads OpenBLAS (the class initializer does). */
    static void load() {}

    /** OpenBLAS's process-wide thread count (openblas_get_num_threads). */
    static int threads() {
        try {
            return (int) GET_NUM_THREADS.invokeExact();
        } catch (Throwable e) {
            throw new IllegalStateException("openblas_get_num_threads", e);
        }
    }

    /** Sets OpenBLAS's process-wide thread count (openblas_set_num_threads). */
    static void setThreads(int threads) {
        try {
            SET_NUM_THREADS.invokeExact(threads);
        } catch (Throwable e) {
            throw new IllegalStateException("openblas_set_num_threads", e);
        }
    }

    /** Build configuration, kernel core and thread count, e.g. "OpenBLAS 0.3.31 DYNAMIC_ARCH ... (core Zen, 2 threads)". */
    static String describe() {
        int threads = threads();
        return string(GET_CONFIG).strip() + " (core " + string(GET_CORENAME).strip() + ", " + threads + (threads == 1 ? " thread)" : " threads)");
    }

    private static String string(MethodHandle getter) {
        try {
            return ((MemorySegment) getter.invokeExact()).reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (Throwable e) {
            throw new IllegalStateException("OpenBLAS string", e);
        }
    }
}
