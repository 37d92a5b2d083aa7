package org.wrpn.backend.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.wrpn.backend.NativeEnvironment;

/**
 * The CPU backend's threads: one count for the Java loops (split over a pool of blocking worker
 * threads, the caller taking the first part), oneDNN's OpenMP threads and OpenBLAS. Every split is
 * over independent outputs (pixels, channels or images), each part in the sequential order, so
 * results do not depend on the count. OpenMP and OpenBLAS workers sleep soon after their work
 * ({@link #quietWorkers}): spinning between convolutions would take the core from the Java loops that
 * run in between.
 */
final class CpuThreads {
    /** Blocking workers shared by every backend of the process; they hold no state between tasks. */
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "wrpn-cpu");
        t.setDaemon(true);
        return t;
    });
    /** omp_set_num_threads of the OpenMP runtime that oneDNN loaded (looked up on first use, after it loads). */
    private static final class OpenMp {
        static final MethodHandle SET_NUM_THREADS = SymbolLookup.loaderLookup().find("omp_set_num_threads")
                .map(f -> Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT))).orElse(null);
    }

    private CpuThreads() {}

    /**
     * Before any OpenMP runtime or OpenBLAS reads its environment: OpenMP workers wait passively
     * (OMP_WAIT_POLICY=PASSIVE), and OpenBLAS's workers go to sleep after a short spin
     * (OPENBLAS_THREAD_TIMEOUT=4, 2^4 polls; its default spins about 2^28 polls, yielding, so idle
     * GEMM threads take the cores from the Java loops that run between GEMMs). A value the user set wins.
     */
    static void quietWorkers() {
        if (System.getenv("OMP_WAIT_POLICY") == null && System.getenv("GOMP_SPINCOUNT") == null) setenv("OMP_WAIT_POLICY", "PASSIVE");
        if (System.getenv("OPENBLAS_THREAD_TIMEOUT") == null && System.getenv("GOTO_THREAD_TIMEOUT") == null) {
            setenv("OPENBLAS_THREAD_TIMEOUT", "4");
        }
    }

    private static void setenv(String name, String value) {
        try {
            NativeEnvironment.set(name, value, false);
        } catch (IllegalStateException e) { // spinning workers are slower, not wrong
            System.getLogger(CpuThreads.class.getName()).log(System.Logger.Level.DEBUG, name + " not set: " + e);
        }
    }

    /**
     * The count: OpenBLAS's process-wide thread count, where it has always lived, so the backend
     * keeps no mutable static state of its own. OpenBLAS starts with OPENBLAS_NUM_THREADS,
     * GOTO_NUM_THREADS or OMP_NUM_THREADS (the first set), else the CPUs the process may run on;
     * -Dwrpn.cpu.threads and CpuBackend.limitGemmThreads change it.
     */
    static int get() {
        return Math.max(1, OpenBlas.threads());
    }

    /** Gives the calling thread's OpenMP parallel regions (oneDNN's) the current thread count. */
    static void applyToOpenMp(int threads) {
        MethodHandle h = OpenMp.SET_NUM_THREADS;
        if (h == null) return; // no OpenMP runtime found: nothing to set
        try {
            h.invokeExact(threads);
        } catch (Throwable e) {
            throw new IllegalStateException("omp_set_num_threads", e);
        }
    }

    interface Range {
        void run(int from, int to);
    }

    /**
     * Runs body over [0, n) on at most get() threads, each part at least `grain` (the caller is one of
     * them); returns when all are done. Parts must write disjoint outputs and may start anywhere.
     *
     * <p>The range is cut into up to {@link #CHUNKS_PER_THREAD} chunks per thread at fixed bounds, and the
     * threads take chunks in turn from a shared counter: a thread that is slower (a worker waking from
     * parked, or a core a neighbouring VM shares) takes fewer, where a fixed half each would wait for it.
     * The bounds do not depend on who runs a chunk, so neither do the results.
     */
    static void forRange(int n, int grain, Range body) {
        int parts = (int) Math.min(get(), Math.max(1, (long) n / Math.max(1, grain)));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        int chunks = (int) Math.min((long) parts * CHUNKS_PER_THREAD, n);
        AtomicInteger next = new AtomicInteger();
        Runnable take = () -> {
            try {
                for (int i; (i = next.getAndIncrement()) < chunks;) {
                    body.run((int) ((long) n * i / chunks), (int) ((long) n * (i + 1) / chunks));
                }
            } catch (RuntimeException | Error e) {
                next.set(chunks); // the others stop after their current chunk
                throw e;
            }
        };
        Future<?>[] rest = new Future<?>[parts - 1];
        for (int i = 1; i < parts; i++) rest[i - 1] = POOL.submit(take);
        Throwable failure = null;
        try {
            take.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (Future<?> f : rest) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new IllegalStateException(failure);
    }

    /** Chunks per thread of a split: enough to even out a slow thread, few enough that claiming them costs nothing. */
    static final int CHUNKS_PER_THREAD = 8;
}
