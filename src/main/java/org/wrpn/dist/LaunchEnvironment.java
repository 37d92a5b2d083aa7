package org.wrpn.dist;

import java.util.Map;
import org.wrpn.BadInputException;

/**
 * Where this process sits in a data-parallel job, as its launcher said in the environment:
 * torchrun and Kubeflow set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; srun sets
 * SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_JOB_NODELIST (its first host is the
 * rendezvous host unless MASTER_ADDR says otherwise). RANK/WORLD_SIZE win where both are set
 * (torchrun started by srun). Neither: one process.
 *
 * @param rank this process, 0 to worldSize - 1
 * @param worldSize processes in the job
 * @param localRank this process among those on its host (which GPU it takes)
 * @param masterAddr host of rank 0's rendezvous store (null for one process)
 * @param masterPort its port
 * @param source which launcher's variables these came from
 */
public record LaunchEnvironment(int rank, int worldSize, int localRank, String masterAddr, int masterPort, Source source) {

    /** The port torchrun uses when MASTER_PORT is not set. */
    public static final int DEFAULT_MASTER_PORT = 29500;

    /** The launcher whose variables were read. */
    public enum Source {
        SINGLE("one process"), TORCHRUN("RANK/WORLD_SIZE"), SLURM("Slurm");

        private final String description;

        Source(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    public LaunchEnvironment {
        if (worldSize < 1) throw new IllegalArgumentException("world size " + worldSize);
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("rank " + rank + " of " + worldSize);
    }

    public static LaunchEnvironment single() {
        return new LaunchEnvironment(0, 1, 0, null, DEFAULT_MASTER_PORT, Source.SINGLE);
    }

    /** This process's environment. */
    public static LaunchEnvironment current() {
        return from(System.getenv());
    }

    /** Reads env; a value that is missing where needed or malformed is a BadInputException naming the variable. */
    public static LaunchEnvironment from(Map<String, String> env) {
        boolean torchrun = present(env, "RANK") || present(env, "WORLD_SIZE");
        boolean slurm = present(env, "SLURM_PROCID") && present(env, "SLURM_NTASKS");
        if (!torchrun && !slurm) return single();
        Source source = torchrun ? Source.TORCHRUN : Source.SLURM;
        String rankVar = torchrun ? "RANK" : "SLURM_PROCID", worldVar = torchrun ? "WORLD_SIZE" : "SLURM_NTASKS";
        String localVar = torchrun ? "LOCAL_RANK" : "SLURM_LOCALID";
        int world = integer(env, worldVar, 1, Integer.MAX_VALUE, null);
        int rank = integer(env, rankVar, 0, world - 1, null);
        int local = integer(env, localVar, 0, world - 1, world == 1 ? 0 : null);
        int port = integer(env, "MASTER_PORT", 1, 65535, DEFAULT_MASTER_PORT);
        String addr = present(env, "MASTER_ADDR") ? env.get("MASTER_ADDR").strip() : null;
        if (addr == null && !torchrun && present(env, "SLURM_JOB_NODELIST")) {
            addr = SlurmNodeList.firstHost(env.get("SLURM_JOB_NODELIST"), "SLURM_JOB_NODELIST");
        }
        if (addr == null && world > 1) {
            throw new BadInputException(worldVar + "=" + world + " needs MASTER_ADDR"
                    + (torchrun ? "" : " or SLURM_JOB_NODELIST") + " (the host of rank 0)");
        }
        return new LaunchEnvironment(rank, world, local, addr, port, source);
    }

    public boolean isDistributed() {
        return worldSize > 1;
    }

    /** One line for `wrpn info` and the log. */
    public String describe() {
        if (!isDistributed()) return "rank 0 of 1 (" + source.description() + ")";
        return "rank " + rank + " of " + worldSize + ", local rank " + localRank + ", rendezvous " + masterAddr + ":" + masterPort
                + " (from " + source.description() + ")";
    }

    private static boolean present(Map<String, String> env, String key) {
        String v = env.get(key);
        return v != null && !v.isBlank();
    }

    /** The variable as an int in [min, max]; missing gives dflt, or an error when dflt is null. */
    private static int integer(Map<String, String> env, String key, int min, int max, Integer dflt) {
        if (!present(env, key)) {
            if (dflt != null) return dflt;
            throw new BadInputException(key + " is not set");
        }
        String v = env.get(key).strip();
        int i;
        try {
            i = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new BadInputException(key + " must be an integer, got '" + v + "'");
        }
        if (i < min || i > max) throw new BadInputException(key + " must be between " + min + " and " + max + ", got " + i);
        return i;
    }
}
