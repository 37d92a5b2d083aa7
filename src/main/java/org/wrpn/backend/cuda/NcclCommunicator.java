package org.wrpn.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static jcuda.driver.JCudaDriver.cuStreamQuery;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUresult;
import org.wrpn.backend.DeviceCommunicator;
import org.wrpn.backend.NativeEnvironment;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/**
 * NCCL on the CUDA backend's own stream, in JCuda's primary context: one communicator per rank,
 * bootstrapped through NCCL_COMM_ID = MASTER_ADDR:(MASTER_PORT + 1) (NCCL's own rendezvous: every
 * rank asks for the unique id and gets the same one, rank 0 serves it), so no store is needed. The
 * collectives are queued like kernels; {@link #await} polls the stream and NCCL's error state, and
 * aborts the communicator when the timeout passes, which makes a hung peer a failure, not a hang.
 */
final class NcclCommunicator implements DeviceCommunicator {
    private static final VarHandle NATIVE_POINTER, BYTE_OFFSET;

    static {
        try {
            NATIVE_POINTER = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
            BYTE_OFFSET = MethodHandles.privateLookupIn(Pointer.class, MethodHandles.lookup())
                    .findVarHandle(Pointer.class, "byteOffset", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Nccl nccl;
    private final CudaStream stream;
    private final MemorySegment comm;
    private final int rank;
    private final int worldSize;
    private boolean aborted;

    NcclCommunicator(CudaStream stream, int rank, int worldSize, String masterAddr, int masterPort, Duration timeout) {
        this.nccl = Nccl.load();
        this.stream = stream;
        this.rank = rank;
        this.worldSize = worldSize;
        if (worldSize > 1 && System.getenv("NCCL_COMM_ID") == null) NativeEnvironment.set("NCCL_COMM_ID", masterAddr + ":" + (masterPort + 1), true); // NCCL reads it
        stream.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(Nccl.UNIQUE_ID);
            nccl.check((int) nccl.getUniqueId.invokeExact(id), "ncclGetUniqueId");
            MemorySegment out = Arena.global().allocate(ADDRESS);
            // ncclCommInitRank blocks until every rank has joined: bounded here, the waiting thread left behind on failure
            CompletableFuture<Integer> init = CompletableFuture.supplyAsync(() -> {
                stream.makeCurrent();
                try {
                    return (int) nccl.commInitRank.invokeExact(out, worldSize, id, rank);
                } catch (Throwable e) {
                    throw Nccl.rethrow(e);
                }
            });
            int rc;
            try {
                rc = init.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new PeerLostException("rank " + rank + ": not all " + worldSize + " ranks joined NCCL's rendezvous at "
                        + System.getenv().getOrDefault("NCCL_COMM_ID", masterAddr + ":" + (masterPort + 1)) + " within "
                        + timeout.toSeconds() + " s");
            } catch (ExecutionException e) {
                throw Nccl.rethrow(e.getCause());
            }
            nccl.check(rc, "ncclCommInitRank");
            comm = out.get(ADDRESS, 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerLostException("interrupted while joining NCCL's rendezvous");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw Nccl.rethrow(e);
        }
    }

    private static long address(Pointer p) {
        return (long) NATIVE_POINTER.get(p) + (long) BYTE_OFFSET.get(p);
    }

    private long streamHandle() {
        return (long) NATIVE_POINTER.get(stream.handle());
    }

    private static int dataType(Tensor t) {
        if (t.dtype() == DType.F32) return Nccl.FLOAT32;
        if (t.dtype() == DType.I32) return Nccl.INT32;
        throw new IllegalArgumentException("NCCL collectives take F32 or I32 tensors, not " + t.dtype());
    }

    @Override
    public void allReduceSum(List<Tensor> tensors) {
        queue(tensors, -1);
    }

    @Override
    public void broadcast(List<Tensor> tensors, int root) {
        queue(tensors, root);
    }

    /** One NCCL group: an all-reduce (root < 0) or a broadcast from root of each tensor, in place. */
    private void queue(List<Tensor> tensors, int root) {
        stream.ensureOpen();
        stream.makeCurrent();
        try {
            nccl.check((int) nccl.groupStart.invokeExact(), "ncclGroupStart");
            for (Tensor t : tensors) {
                long p = address(((CudaTensor) t).ptr());
                long n = t.shape().elements();
                int rc = root < 0
                        ? (int) nccl.allReduce.invokeExact(p, p, n, dataType(t), Nccl.SUM, comm, streamHandle())
                        : (int) nccl.broadcast.invokeExact(p, p, n, dataType(t), root, comm, streamHandle());
                nccl.check(rc, root < 0 ? "ncclAllReduce" : "ncclBroadcast");
            }
            nccl.check((int) nccl.groupEnd.invokeExact(), "ncclGroupEnd");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable e) {
            throw Nccl.rethrow(e);
        }
    }

    @Override
    public void await(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        stream.makeCurrent();
        for (int polls = 0; ; polls++) {
            int q = cuStreamQuery(stream.handle());
            if (q == CUresult.CUDA_SUCCESS) return;
            if (q != CUresult.CUDA_ERROR_NOT_READY) throw new PeerLostException("the stream failed: " + CUresult.stringFor(q));
            int async = asyncError();
            if (async != Nccl.SUCCESS && async != Nccl.IN_PROGRESS) {
                abort();
                throw new PeerLostException("NCCL: " + nccl.errorString(async));
            }
            if (System.nanoTime() > deadline) {
                abort();
                throw new PeerLostException("a peer of rank " + rank + " did not take part in a collective within " + timeout.toSeconds() + " s");
            }
            if (polls > 100) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    abort();
                    throw new PeerLostException("interrupted while waiting for a collective");
                }
            } else {
                Thread.onSpinWait();
            }
        }
    }

    private int asyncError() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(JAVA_INT);
            int rc = (int) nccl.commGetAsyncError.invokeExact(comm, r);
            return rc != Nccl.SUCCESS ? rc : r.get(JAVA_INT, 0);
        } catch (Throwable e) {
            throw Nccl.rethrow(e);
        }
    }

    /** Makes NCCL's kernels on the stream return, so nothing waits forever for a lost peer. */
    private void abort() {
        if (aborted) return;
        aborted = true;
        try {
            int ignored = (int) nccl.commAbort.invokeExact(comm);
        } catch (Throwable e) {
            // the job is failing already; the process ends
        }
    }

    @Override
    public String describe() {
        return nccl.describe() + ", rank " + rank + " of " + worldSize;
    }

    @Override
    public void close() {
        if (aborted) return;
        try {
            int ignored = (int) nccl.commDestroy.invokeExact(comm);
        } catch (Throwable e) {
            // closing: nothing left to do
        }
    }
}
