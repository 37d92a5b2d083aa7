package org.wrpn.dist;

import java.time.Duration;
import java.util.List;
import org.wrpn.backend.Backend;
import org.wrpn.backend.DeviceCommunicator;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The Collective of a backend with its own device collectives (NCCL on the CUDA backend): tensors are
 * summed where they are; small host vectors go through a device tensor, doubles as two floats each
 * (the float and what it left out), so their sum keeps about twice float's digits.
 */
public final class DeviceCollective implements Collective {
    private final Backend backend;
    private final DeviceCommunicator comm;
    private final int rank;
    private final int worldSize;
    private final Duration timeout;

    public DeviceCollective(Backend backend, DeviceCommunicator comm, int rank, int worldSize, Duration timeout) {
        this.backend = backend;
        this.comm = comm;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
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
        return comm.describe() + ", timeout " + timeout.toSeconds() + " s";
    }

    private void await(String during) {
        try {
            comm.await(timeout);
        } catch (DeviceCommunicator.PeerLostException e) {
            throw new RankLostException("during " + during + ": " + e.getMessage(), e);
        }
    }

    private void run(Runnable queue, String during) {
        try {
            queue.run();
        } catch (DeviceCommunicator.PeerLostException e) {
            throw new RankLostException("during " + during + ": " + e.getMessage(), e);
        }
        await(during);
    }

    @Override
    public Bucket bucket(List<Tensor> tensors) {
        List<Tensor> fixed = List.copyOf(tensors);
        long bytes = fixed.stream().mapToLong(Tensor::bytes).sum();
        return new Bucket() {
            @Override
            public void start() {
                try {
                    comm.allReduceSum(fixed);
                } catch (DeviceCommunicator.PeerLostException e) {
                    throw new RankLostException("during the gradient sum: " + e.getMessage(), e);
                }
            }

            @Override
            public void await() {
                DeviceCollective.this.await("the gradient sum");
            }

            @Override
            public long bytes() {
                return bytes;
            }
        };
    }

    @Override
    public void sum(double[] values) {
        int n = values.length;
        float[] split = new float[2 * n];
        for (int i = 0; i < n; i++) {
            split[i] = (float) values[i];
            split[n + i] = (float) (values[i] - split[i]);
        }
        Tensor t = backend.allocate(DType.F32, Shape.of(Math.max(1, 2 * n)));
        try {
            backend.upload(split, t);
            run(() -> comm.allReduceSum(List.of(t)), "a sum of step statistics");
            backend.download(t, split);
        } finally {
            t.close();
        }
        for (int i = 0; i < n; i++) values[i] = (double) split[i] + split[n + i];
    }

    @Override
    public void broadcast(List<Tensor> tensors, int root) {
        run(() -> comm.broadcast(tensors, root), "a broadcast from rank " + root);
    }

    @Override
    public void broadcast(long[] values, int root) {
        int[] halves = new int[Math.max(1, 2 * values.length)];
        for (int i = 0; i < values.length; i++) {
            halves[2 * i] = (int) (values[i] >>> 32);
            halves[2 * i + 1] = (int) values[i];
        }
        Tensor t = backend.allocate(DType.I32, Shape.of(halves.length));
        try {
            backend.upload(halves, t);
            run(() -> comm.broadcast(List.of(t), root), "a broadcast from rank " + root);
            backend.download(t, halves);
        } finally {
            t.close();
        }
        for (int i = 0; i < values.length; i++) values[i] = ((long) halves[2 * i] << 32) | (halves[2 * i + 1] & 0xffffffffL);
    }

    @Override
    public void barrier() {
        sum(new double[1]);
    }

    @Override
    public void close() {
        comm.close();
    }
}
