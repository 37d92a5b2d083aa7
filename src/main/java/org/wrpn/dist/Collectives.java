package org.wrpn.dist;

import java.time.Duration;
import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.backend.Device;
import org.wrpn.dist.gloo.GlooCollective;
import org.wrpn.dist.gloo.PyTorchNatives;

/** Picks the collective engine for a backend: Gloo between CPU processes. */
public final class Collectives {
    private Collectives() {}

    /** What several ranks on the CPU would use, for `wrpn info`. */
    public static String cpuEngine() {
        return "Gloo (PyTorch c10d " + PyTorchNatives.VERSION + "): natives "
                + (PyTorchNatives.available() ? "on the class path" : "not on the class path (./wrpn fetches them for a run of several ranks)");
    }

    /** Joins the job env describes (blocking until every rank has joined, at most timeout). */
    public static Collective join(LaunchEnvironment env, Backend backend, Duration timeout) {
        if (Device.of(backend) == Device.CUDA) {
            throw new BadInputException("data-parallel training on GPUs (NCCL) is not available yet; train with --device cpu"
                    + " or one rank");
        }
        return GlooCollective.join(env, backend, timeout);
    }
}
