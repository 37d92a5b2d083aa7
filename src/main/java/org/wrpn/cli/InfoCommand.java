package org.wrpn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.wrpn.backend.BackendSelector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the backend auto would choose, and why.")
public final class InfoCommand implements Callable<Integer> {
    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Override
    public Integer call() throws Exception {
        BackendSelector.CudaStatus cuda = BackendSelector.cudaStatus();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backend", cuda.available() ? "cuda" : "cpu");
        m.put("reason", cuda.reason());
        m.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        m.put("java", System.getProperty("java.version"));
        m.put("max_heap_bytes", Runtime.getRuntime().maxMemory());
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(m));
        } else {
            m.forEach((k, v) -> System.out.println(k + ": " + v));
        }
        return Main.EXIT_OK;
    }
}
