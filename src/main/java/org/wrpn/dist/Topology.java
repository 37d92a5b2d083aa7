package org.wrpn.dist;

import java.util.Locale;
import org.wrpn.BadInputException;

/**
 * Where the ranks of a data-parallel job sit and what joins them, as the scaling model needs it
 * (docs/SCALING.md): nodes x ranks per node, the ring's bus bandwidth and its latency terms.
 *
 * <p>Bandwidths are in NCCL's bus-bandwidth convention (nccl-tests, doc/PERFORMANCE.md): the figure
 * {@code all_reduce_perf} prints as busbw, GB/s = 1e9 bytes per second, per rank and per direction.
 * One node: the ring runs over the intra-node link ({@code linkGBps}). Several nodes: every ring leaves
 * each node once, through one NIC, so the rings together get {@code nicsPerNode x nicGBps} out of a
 * node, and the bus bandwidth is the smaller of that and the intra-node link.
 *
 * <p>Latency, NCCL's own model for a ring all-reduce (src/graph/tuning.cc, ncclTopoTuneModel): a base
 * term, plus one hop latency per step, 2(N-1) steps, of which 2 x nodes cross the network when
 * there is more than one node.
 *
 * @param name what the tables call it
 * @param device "cuda" or "cpu": whose single-rank step times apply ({@link StepTimes})
 * @param nodes hosts
 * @param ranksPerNode processes (GPUs) per host
 * @param linkGBps intra-node bus bandwidth, GB/s
 * @param nicGBps one NIC's bandwidth per direction, GB/s (unused for one node)
 * @param nicsPerNode NICs each node's rings can use (unused for one node)
 * @param baseUs latency every all-reduce pays once, microseconds
 * @param linkAlphaUs latency of one ring step inside a node, microseconds
 * @param netAlphaUs latency of one ring step across the network, microseconds
 */
public record Topology(String name, String device, int nodes, int ranksPerNode, double linkGBps, double nicGBps,
        int nicsPerNode, double baseUs, double linkAlphaUs, double netAlphaUs) {

    /**
     * NVLink 4 (H100/H200 SXM): 18 links, 900 GB/s both ways, 450 GB/s per direction per GPU; the
     * figure aws-ofi-nccl's tuner models per rank inside a Hopper node (src/tuner/nccl_ofi_model.c).
     */
    public static final double NVLINK4_GBPS = 450;
    /** InfiniBand NDR, 400 Gb/s per port = 50 GB/s per direction (ConnectX-7). */
    public static final double NDR_NIC_GBPS = 50;
    /** One NIC per GPU, as on DGX/HGX H100 and H200 nodes (8 x ConnectX-7 for 8 GPUs). */
    public static final int NICS_PER_NODE = 8;
    /** NCCL's ring all-reduce latencies for the Simple protocol (large buffers), tuning.cc: baseLat, hwLat. */
    public static final double NCCL_BASE_US = 8.4;
    public static final double NCCL_NVLINK_ALPHA_US = 3.4;
    public static final double NCCL_NET_ALPHA_US = 14.0;
    /**
     * CPU loopback (Gloo over TCP on one host), measured by `wrpn bench allreduce --nproc 2` on the
     * project's 2-core EPYC at 541603a (benchmarks/results/allreduce-cpu.csv): bus bandwidth at 64 MB,
     * and the per-step latency from a 4 KB all-reduce (0.30 ms over the ring's 2(n - 1) = 2 steps).
     */
    public static final double LOOPBACK_GBPS_MEASURED = 0.91;
    public static final double LOOPBACK_ALPHA_US_MEASURED = 150.0;

    public Topology {
        if (nodes < 1 || ranksPerNode < 1) {
            throw new BadInputException("a topology needs at least one node and one rank per node, got " + nodes + " x " + ranksPerNode);
        }
        positive(linkGBps, "--link-gbps");
        if (nodes > 1) {
            positive(nicGBps, "--nic-gbps");
            if (nicsPerNode < 1) throw new BadInputException("--nics-per-node must be at least 1, got " + nicsPerNode);
        }
        if (!(baseUs >= 0) || !(linkAlphaUs >= 0) || !(netAlphaUs >= 0) || Double.isInfinite(baseUs + linkAlphaUs + netAlphaUs)) {
            throw new BadInputException("latencies (--base-us, --alpha-us, --net-alpha-us) must be finite and not negative");
        }
    }

    /** nodes x gpusPerNode GPUs: NVLink 4 inside a node, 8 NDR NICs per node between nodes, NCCL's latencies. */
    public static Topology gpus(int nodes, int gpusPerNode) {
        return gpus(nodes, gpusPerNode, NVLINK4_GBPS, NDR_NIC_GBPS, NICS_PER_NODE, NCCL_BASE_US, NCCL_NVLINK_ALPHA_US, NCCL_NET_ALPHA_US);
    }

    /** nodes x gpusPerNode GPUs with the given link, NIC and latency figures. */
    public static Topology gpus(int nodes, int gpusPerNode, double linkGBps, double nicGBps, int nicsPerNode, double baseUs,
            double linkAlphaUs, double netAlphaUs) {
        String gpus = gpusPerNode == 1 ? "1 GPU" : gpusPerNode + " GPUs";
        String name = nodes == 1 ? gpus + ", 1 node (NVLink)" : nodes + " nodes x " + gpus + " (InfiniBand)";
        return new Topology(name, "cuda", nodes, gpusPerNode, linkGBps, nicGBps, nicsPerNode, baseUs, linkAlphaUs, netAlphaUs);
    }

    /** ranks processes on one host, reducing over loopback TCP (Gloo) at busGBps. */
    public static Topology cpuLoopback(int ranks, double busGBps, double alphaUs) {
        positive(busGBps, "--bus-gbps");
        return new Topology("CPU loopback, " + ranks + " ranks (Gloo)", "cpu", 1, ranks, busGBps, 0, 0, 0, alphaUs, 0);
    }

    public int ranks() {
        return nodes * ranksPerNode;
    }

    /** The ring's bus bandwidth, GB/s: the intra-node link, or the nodes' NICs if those are slower. */
    public double busGBps() {
        return nodes == 1 ? linkGBps : Math.min(linkGBps, nicsPerNode * nicGBps);
    }

    /** Ring steps of one all-reduce: N - 1 of reduce-scatter and N - 1 of all-gather. */
    public int ringSteps() {
        return 2 * (ranks() - 1);
    }

    /** Of those, the ones NCCL's model charges the network's hop latency (2 x nodes with several nodes). */
    public int networkSteps() {
        return nodes > 1 ? Math.min(ringSteps(), 2 * nodes) : 0;
    }

    /** The latency of one all-reduce, microseconds; 0 for one rank, which reduces nothing. */
    public double latencyUs() {
        if (ranks() == 1) return 0;
        return baseUs + (ringSteps() - networkSteps()) * linkAlphaUs + networkSteps() * netAlphaUs;
    }

    /** The same topology with a measured bus bandwidth in place of the link figures. */
    public Topology withBusGBps(double gbps, String flag) {
        positive(gbps, flag);
        return new Topology(name, device, nodes, ranksPerNode, gbps, gbps / Math.max(1, nicsPerNode), Math.max(1, nicsPerNode),
                baseUs, linkAlphaUs, netAlphaUs);
    }

    /** One line: ranks, bandwidth, latency. */
    public String describe() {
        return String.format(Locale.ROOT, "%s: %d ranks, bus %.4g GB/s, all-reduce latency %.4g us", name, ranks(), busGBps(),
                latencyUs());
    }

    static void positive(double v, String flag) {
        if (!(v > 0) || Double.isInfinite(v)) throw new BadInputException(flag + " must be a positive number, got " + v);
    }
}
