package org.wrpn.dist.gloo;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Store;

/**
 * Each rank counts up its own key in the rendezvous store about once a second; when a collective
 * fails, the keys that stopped moving name the ranks that died or hang. If the store itself is gone,
 * rank 0 (which serves it) is the lost one.
 */
final class RankWatch implements AutoCloseable {
    static final long BEAT_MILLIS = 500;
    /** How long a key may stand still before its rank counts as lost: several beats. */
    static final long SILENCE_MILLIS = 2500;

    private final Store store;
    private final int rank;
    private final int worldSize;
    private final Thread beater;
    private volatile boolean closed;

    RankWatch(Store store, int rank, int worldSize) {
        this.store = store;
        this.rank = rank;
        this.worldSize = worldSize;
        beater = new Thread(this::beat, "wrpn-rank-watch");
        beater.setDaemon(true);
        beater.start();
    }

    private static String key(int r) {
        return "wrpn/alive/" + r;
    }

    private void beat() {
        while (!closed) {
            try {
                synchronized (store) {
                    store.add(key(rank), 1);
                }
                Thread.sleep(BEAT_MILLIS);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) { // the store is gone: rank 0 ended or died; a collective will say so
                return;
            }
        }
    }

    /** "rank 2", "ranks 1, 2" or "rank 0 (the rendezvous host)"; null when every rank still beats. */
    String lostRanks() {
        try {
            long[] before = counts();
            Thread.sleep(SILENCE_MILLIS);
            long[] after = counts();
            List<String> lost = new ArrayList<>();
            for (int r = 0; r < worldSize; r++) if (r != rank && after[r] == before[r]) lost.add(Integer.toString(r));
            if (lost.isEmpty()) return null;
            return (lost.size() == 1 ? "rank " : "ranks ") + String.join(", ", lost);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (RuntimeException e) {
            return rank == 0 ? null : "rank 0 (the rendezvous host)";
        }
    }

    private long[] counts() {
        long[] c = new long[worldSize];
        synchronized (store) {
            for (int r = 0; r < worldSize; r++) c[r] = store.add(key(r), 0);
        }
        return c;
    }

    @Override
    public void close() {
        closed = true;
        beater.interrupt();
        try {
            beater.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.close();
    }
}
