package org.wrpn.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.wrpn.BadInputException;

/**
 * NCCL's C API (nccl.h, NCCL 2.x), called through the JDK's foreign-function interface: the few
 * functions a data-parallel job needs, on libnccl.so.2 as the system or a Python wheel installs it
 * (found by the dynamic loader, or at $WRPN_NCCL_LIBRARY). No Java binding library is needed.
 */
final class Nccl {
    /** Where libnccl.so.2 is, when the dynamic loader's path does not have it. */
    static final String LIBRARY_VARIABLE = "WRPN_NCCL_LIBRARY";
    static final int UNIQUE_ID_BYTES = 128;
    // ncclDataType_t, ncclRedOp_t, ncclResult_t values of nccl.h
    static final int INT32 = 2, FLOAT32 = 7;
    static final int SUM = 0;
    static final int SUCCESS = 0, IN_PROGRESS = 7;
    static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));

    private static volatile Nccl loaded;

    final MethodHandle getVersion, getUniqueId, commInitRank, allReduce, broadcast, groupStart, groupEnd, commGetAsyncError,
            commAbort, commDestroy, getErrorString;
    final String library;

    private Nccl(SymbolLookup lib, String library) {
        this.library = library;
        Linker l = Linker.nativeLinker();
        getVersion = l.downcallHandle(find(lib, "ncclGetVersion"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getUniqueId = l.downcallHandle(find(lib, "ncclGetUniqueId"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commInitRank = l.downcallHandle(find(lib, "ncclCommInitRank"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        allReduce = l.downcallHandle(find(lib, "ncclAllReduce"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
        broadcast = l.downcallHandle(find(lib, "ncclBroadcast"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
        groupStart = l.downcallHandle(find(lib, "ncclGroupStart"), FunctionDescriptor.of(JAVA_INT));
        groupEnd = l.downcallHandle(find(lib, "ncclGroupEnd"), FunctionDescriptor.of(JAVA_INT));
        commGetAsyncError = l.downcallHandle(find(lib, "ncclCommGetAsyncError"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commAbort = l.downcallHandle(find(lib, "ncclCommAbort"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commDestroy = l.downcallHandle(find(lib, "ncclCommDestroy"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        getErrorString = l.downcallHandle(find(lib, "ncclGetErrorString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new BadInputException("the NCCL library has no " + name + " (NCCL 2.x needed)"));
    }

    /** The library, loaded once per process; a missing one is a one-line BadInputException saying where it was looked for. */
    static Nccl load() {
        Nccl n = loaded;
        if (n != null) return n;
        synchronized (Nccl.class) {
            if (loaded == null) {
                String set = System.getenv(LIBRARY_VARIABLE);
                loaded = load(set != null && !set.isBlank() ? set.strip() : null);
            }
            return loaded;
        }
    }

    /** The library at path, or (null) libnccl.so.2 wherever the dynamic loader finds it. */
    static Nccl load(String path) {
        String name = path != null ? path : "libnccl.so.2";
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("data-parallel training on GPUs needs NCCL: cannot load " + name
                    + (path == null ? " (not on the dynamic loader's path; set " + LIBRARY_VARIABLE + " to the library)" : ""));
        }
        return new Nccl(lib, name);
    }

    /** "NCCL 2.27.3 (libnccl.so.2)". */
    String describe() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check((int) getVersion.invokeExact(v), "ncclGetVersion");
            int code = v.get(JAVA_INT, 0); // major * 10000 + minor * 100 + patch since 2.9
            return "NCCL " + code / 10000 + "." + code / 100 % 100 + "." + code % 100 + " (" + library + ")";
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    String errorString(int result) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(result);
            return s.reinterpret(256).getString(0);
        } catch (Throwable e) {
            return "NCCL error " + result;
        }
    }

    /** Throws naming the call when result is not ncclSuccess (or, where allowed, ncclInProgress). */
    void check(int result, String call) {
        if (result != SUCCESS && result != IN_PROGRESS) {
            throw new org.wrpn.backend.DeviceCommunicator.PeerLostException(call + " failed: " + errorString(result));
        }
    }

    static RuntimeException rethrow(Throwable e) {
        if (e instanceof RuntimeException r) return r;
        if (e instanceof Error err) throw err;
        return new IllegalStateException(e);
    }
}
