package org.wrpn.dist;

import java.time.Duration;
import org.wrpn.backend.Backend;
import org.wrpn.backend.Device;
import org.wrpn.dist.gloo.GlooCollective;
import org.wrpn.dist.gloo.PyTorchNatives;

/** Picks the collective engine for a backend: NCCL between GPUs (the CUDA backend's own), Gloo between CPU processes. */
public final class Collectives {
    private Collectives() {}

    /** What several ranks on the CPU would use, for `wrpn info`. */
    public static String cpuEngine() {
        return "Gloo (PyTorch c10d " + PyTorchNatives.VERSION + "): natives "
                + (PyTorchNatives.available() ? "on the class path" : "not on the class path (./wrpn fetches them for a run of several ranks)");
    }

    /** Joins the job env describes (blocking until every rank has joined, at most timeout). */
    public static Collective join(LaunchEnvironment env, Backend backend, Duration timeout) {
        if (!env.isDistributed()) throw new IllegalArgumentException("one process needs no collective");
        if (Device.of(backend) == Device.CUDA) { // NCCL on the backend's stream
            return new DeviceCollective(backend, backend.communicator(env.rank(), env.worldSize(), env.masterAddr(), env.masterPort(), timeout),
                    env.rank(), env.worldSize(), timeout);
        }
        return GlooCollective.join(env, backend, timeout);
    }
}
