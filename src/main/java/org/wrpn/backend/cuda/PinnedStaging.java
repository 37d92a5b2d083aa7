package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;

/**
 * A ring of page-locked host buffers for copies between Java arrays and the device. An upload
 * copies the array into a slot and queues the DMA on the stream, then returns: the copy overlaps
 * whatever the stream and the host do next. A slot is reused only after the event recorded behind
 * its copy has fired. (Java arrays themselves cannot be pinned, so every copy goes through here.)
 */
final class PinnedStaging implements AutoCloseable {
    private final long slotBytes;
    private final Pointer[] host;
    private final ByteBuffer[] views;
    private final CUevent[] done;
    private final boolean[] pending;
    private int next;

    PinnedStaging(int slots, long slotBytes) {
        this.slotBytes = slotBytes;
        host = new Pointer[slots];
        views = new ByteBuffer[slots];
        done = new CUevent[slots];
        pending = new boolean[slots];
        try {
            for (int i = 0; i < slots; i++) {
                host[i] = new Pointer();
                CudaRuntime.check(cuMemHostAlloc(host[i], slotBytes, 0), "cuMemHostAlloc(" + slotBytes + ")");
                views[i] = host[i].getByteBuffer(0, slotBytes).order(ByteOrder.nativeOrder());
                done[i] = new CUevent();
                CudaRuntime.check(cuEventCreate(done[i], CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    long slotBytes() {
        return slotBytes;
    }

    /** The next free slot; waits for the copy that last used it. */
    int acquire() {
        int i = next;
        next = (next + 1) % host.length;
        if (pending[i]) {
            CudaRuntime.check(cuEventSynchronize(done[i]), "waiting for a staged copy");
            pending[i] = false;
        }
        views[i].clear();
        return i;
    }

    ByteBuffer view(int slot) {
        return views[slot];
    }

    Pointer pointer(int slot) {
        return host[slot];
    }

    /** Marks the slot busy until the work queued so far on the stream is done. */
    void inFlight(int slot, CUstream stream) {
        CudaRuntime.check(cuEventRecord(done[slot], stream), "cuEventRecord");
        pending[slot] = true;
    }

    @Override
    public void close() {
        for (int i = 0; i < host.length; i++) {
            if (done[i] != null) {
                if (pending[i]) cuEventSynchronize(done[i]);
                cuEventDestroy(done[i]);
                done[i] = null;
            }
            if (host[i] != null) {
                cuMemFreeHost(host[i]);
                host[i] = null;
            }
        }
    }
}
