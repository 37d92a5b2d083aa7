package org.wrpn.dist.gloo;

import java.time.Duration;
import java.util.List;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.dist.Collective;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.dist.RankLostException;
import org.wrpn.tensor.Tensor;

/**
 * Gloo through PyTorch's c10d (org.bytedeco:pytorch): rank 0 serves a TCPStore at MASTER_ADDR:
 * MASTER_PORT for the rendezvous, and a ProcessGroupGloo does the collectives over TCP on host
 * memory; tensors of the backend are staged through off-heap buffers. Every operation waits at most
 * the timeout; a failure names the lost rank when the store can tell ({@link RankWatch}).
 */
public final class GlooCollective implements Collective {
    private final int rank;
    private final int worldSize;
    private final Backend backend;
    private final TCPStore store;
    private final ProcessGroupGloo group;
    private final RankWatch watch;
    private final String describe;
    private DoublePointer sumBuffer;
    private int sumLength = -1;
    private org.bytedeco.pytorch.Tensor sumTensor;

    private GlooCollective(LaunchEnvironment env, Backend backend, Duration timeout) {
        this.rank = env.rank();
        this.worldSize = env.worldSize();
        this.backend = backend;
        PyTorchNatives.load();
        Milliseconds ms = new Milliseconds(timeout.toMillis());
        TCPStoreOptions o = new TCPStoreOptions();
        o.port((short) env.masterPort());
        o.isServer(rank == 0);
        o.numWorkers(new SizeTPointer(1).put(worldSize));
        o.waitWorkers(true);
        o.timeout(ms);
        try {
            store = new TCPStore(env.masterAddr(), o);
        } catch (RuntimeException e) {
            String what = rank == 0
                    ? "rank 0 could not serve the rendezvous on port " + env.masterPort() + " or not all " + worldSize
                            + " ranks joined within " + timeout.toSeconds() + " s"
                    : "rank " + rank + " could not join the rendezvous at " + env.masterAddr() + ":" + env.masterPort()
                            + " within " + timeout.toSeconds() + " s";
            throw new RankLostException(what + " (" + firstLine(e) + ")", e);
        }
        ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(ms);
        options.devices().push_back(device(env));
        try {
            group = new ProcessGroupGloo(store, rank, worldSize, options);
        } catch (RuntimeException e) {
            throw new RankLostException("rank " + rank + " could not connect to its peers (" + firstLine(e) + ")", e);
        }
        watch = new RankWatch(store.clone(), rank, worldSize);
        describe = "Gloo (PyTorch c10d) over TCP, " + env.describe() + ", timeout " + timeout.toSeconds() + " s";
    }

    /** Joins the job that env describes; blocks until every rank has joined or the timeout passed. */
    public static GlooCollective join(LaunchEnvironment env, Backend backend, Duration timeout) {
        if (!env.isDistributed()) throw new IllegalArgumentException("one process needs no collective");
        return new GlooCollective(env, backend, timeout);
    }

    /** GLOO_SOCKET_IFNAME as PyTorch reads it; else loopback for a loopback rendezvous, else this host's name. */
    private static org.bytedeco.pytorch.gloo.Device device(LaunchEnvironment env) {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) return ProcessGroupGloo.createDeviceForInterface(ifname.strip());
        String addr = env.masterAddr();
        if (addr.equals("localhost") || addr.startsWith("127.")) return ProcessGroupGloo.createDeviceForHostname("127.0.0.1");
        return ProcessGroupGloo.createDefaultDevice();
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public String describe() {
        return describe;
    }

    @Override
    public Bucket bucket(List<Tensor> tensors) {
        return new StagedBucket(tensors);
    }

    @Override
    public synchronized void sum(double[] values) {
        if (values.length != sumLength) {
            if (sumBuffer != null) sumBuffer.close();
            sumBuffer = new DoublePointer(Math.max(1, values.length));
            sumTensor = torch.from_blob(sumBuffer, new long[] {values.length}, new TensorOptions(torch.ScalarType.Double));
            sumLength = values.length;
        }
        sumBuffer.put(values);
        complete(group.allreduce(new TensorVector(sumTensor)), "a sum of step statistics");
        sumBuffer.get(values);
    }

    @Override
    public void broadcast(List<Tensor> tensors, int root) {
        try (StagedBucket b = new StagedBucket(tensors)) {
            b.broadcast(root);
        }
    }

    @Override
    public void broadcast(long[] values, int root) {
        try (LongPointer p = new LongPointer(Math.max(1, values.length))) {
            p.put(values);
            org.bytedeco.pytorch.Tensor t = torch.from_blob(p, new long[] {values.length}, new TensorOptions(torch.ScalarType.Long));
            complete(group.broadcast(new TensorVector(t), new BroadcastOptions().rootRank(root)), "a broadcast from rank " + root);
            p.get(values);
        }
    }

    @Override
    public void barrier() {
        complete(group.barrier(), "a barrier");
    }

    /** Waits for work; a failure becomes a RankLostException naming the lost rank where the store can tell. */
    private void complete(Work work, String during) {
        try {
            work._wait();
        } catch (RuntimeException e) {
            throw lost(during, e);
        }
    }

    private RankLostException lost(String during, RuntimeException e) {
        String who = watch.lostRanks();
        return new RankLostException((who == null ? "a peer of rank " + rank + " was lost" : who + " was lost") + " during " + during
                + " (" + firstLine(e) + ")", e);
    }

    /** The first line of c10d's message, without the "[path/of/its/build/file.cc:78] " it starts with. */
    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().strip();
        int nl = m.indexOf('\n');
        if (nl >= 0) m = m.substring(0, nl).strip();
        int end = m.startsWith("[") ? m.indexOf("] ") : -1;
        return end > 0 ? m.substring(end + 2).strip() : m;
    }

    @Override
    public void close() {
        watch.close();
        group.close();
        store.close();
        if (sumBuffer != null) sumBuffer.close();
    }

    /** Tensors staged in one off-heap float buffer, summed (or broadcast) by Gloo in place. */
    private final class StagedBucket implements Bucket, AutoCloseable {
        private final List<Tensor> tensors;
        private final float[][] host;
        private final FloatPointer buffer;
        private final org.bytedeco.pytorch.Tensor flat;
        private final long elements;
        private Work pending;

        StagedBucket(List<Tensor> tensors) {
            this.tensors = List.copyOf(tensors);
            host = new float[tensors.size()][];
            long n = 0;
            for (int i = 0; i < tensors.size(); i++) {
                host[i] = new float[Math.toIntExact(tensors.get(i).shape().elements())];
                n += host[i].length;
            }
            elements = n;
            buffer = new FloatPointer(Math.max(1, n));
            flat = torch.from_blob(buffer, new long[] {n}, new TensorOptions(torch.ScalarType.Float));
        }

        private void stage() {
            long at = 0;
            for (int i = 0; i < host.length; i++) {
                backend.download(tensors.get(i), host[i]);
                buffer.position(at).put(host[i]);
                at += host[i].length;
            }
            buffer.position(0);
        }

        private void unstage() {
            long at = 0;
            for (int i = 0; i < host.length; i++) {
                buffer.position(at).get(host[i]);
                at += host[i].length;
                backend.upload(host[i], tensors.get(i));
            }
            buffer.position(0);
        }

        @Override
        public void start() {
            if (pending != null) throw new IllegalStateException("bucket started twice");
            stage();
            pending = group.allreduce(new TensorVector(flat));
        }

        @Override
        public void await() {
            if (pending == null) throw new IllegalStateException("bucket not started");
            Work w = pending;
            pending = null;
            complete(w, "the gradient sum");
            unstage();
        }

        void broadcast(int root) {
            stage();
            complete(group.broadcast(new TensorVector(flat), new BroadcastOptions().rootRank(root)), "a broadcast from rank " + root);
            unstage();
        }

        @Override
        public long bytes() {
            return elements * Float.BYTES;
        }

        @Override
        public void close() {
            buffer.close();
        }
    }
}
