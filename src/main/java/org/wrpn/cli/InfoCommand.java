package org.wrpn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.GpuDevice;
import org.wrpn.dist.Collectives;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.quant.PackedActivations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the backend auto would choose and why, the GPU (if any) and the PTX kernels of this build.")
public final class InfoCommand implements Callable<Integer> {
    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Override
    public Integer call() throws Exception {
        BackendSelector.CudaStatus cuda = BackendSelector.cudaStatus();
        BackendSelector.Choice auto = BackendSelector.autoChoice();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backend", auto.backend());
        m.put("reason", auto.reason());
        m.put("cuda_available", cuda.available());
        m.put("cuda_reason", cuda.reason());
        GpuDevice d = cuda.device();
        if (d != null) {
            m.put("gpu", d.name());
            m.put("gpu_memory_bytes", d.totalMemoryBytes());
            m.put("compute_capability", d.computeCapability());
            m.put("multiprocessors", d.multiprocessors());
            m.put("driver_cuda_version", d.driverCudaVersion());
        }
        m.put("ptx", cuda.ptx());
        m.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        m.put("cpu_pack", PackedActivations.implementation()); // quantize+pack on the Vector API or the plain loops
        m.put("cpu_blas", BackendSelector.cpuBlas()); // the CPU backend's OpenBLAS: version, build, kernel core, threads
        m.put("java", System.getProperty("java.version"));
        m.put("max_heap_bytes", Runtime.getRuntime().maxMemory());
        try {
            LaunchEnvironment launch = LaunchEnvironment.current();
            m.put("launch", launch.describe());
            m.put("rank", launch.rank());
            m.put("world_size", launch.worldSize());
            m.put("local_rank", launch.localRank());
        } catch (BadInputException e) {
            m.put("launch", "not usable: " + e.getMessage()); // info still reports the rest
        }
        m.put("collective_cpu", Collectives.cpuEngine());
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(m));
        } else {
            // cuda_reason is usually auto's reason itself: say it once
            if (Objects.equals(m.get("cuda_reason"), m.get("reason"))) m.remove("cuda_reason");
            m.forEach((k, v) -> System.out.println(k + ": " + v));
        }
        return Main.EXIT_OK;
    }
}
