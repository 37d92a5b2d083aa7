package org.wrpn.bench;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * PyTorch as a peer inside one `wrpn bench train` run: benchmarks/peers/pytorch_wrpn.py --serve in a
 * child process, set up with the same network, bits and batch as the wrpn row and asked to time one
 * step at a time, so that wrpn's and PyTorch's steps alternate. At 32 bits PyTorch trains in fp32;
 * below it, WRPN by fake quantization with straight-through estimators (the script's `fq<k>`).
 * PyTorch comes from Debian's python3-torch (benchmarks/peers/setup-pytorch.sh installs it); the
 * tests never need it.
 */
public final class TorchPeer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

    private final Process process;
    private final BufferedWriter in;
    private final BufferedReader out;
    private final Map<String, Object> hello;
    private String setUpFor;
    private Map<String, Object> setup;

    private TorchPeer(Process process, int threads) throws IOException {
        this.process = process;
        this.in = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("op", "hello");
        this.hello = ask(req);
        hello.put("requested_threads", threads);
    }

    /**
     * Starts the peer with `threads` intra-op threads. The script is found at
     * WRPN_TORCH_PEER (or -Dwrpn.torchPeer), else benchmarks/peers/pytorch_wrpn.py under the working directory or above
     * the jar; Python is WRPN_PYTHON (or -Dwrpn.python), else /usr/bin/python3 (Debian's, where python3-torch lives).
     */
    public static TorchPeer start(int threads) throws IOException {
        Path script = script();
        String python = setting("WRPN_PYTHON", "wrpn.python");
        if (python == null) python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        List<String> cmd = List.of(python, script.toString(), "--serve", "--device", "cpu", "--threads", String.valueOf(threads));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        // the same thread count for every library PyTorch may use
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.environment().put("MKL_NUM_THREADS", String.valueOf(threads));
        Process p = pb.start();
        try {
            return new TorchPeer(p, threads);
        } catch (IOException | RuntimeException e) {
            p.destroyForcibly();
            throw new IOException("the PyTorch peer did not start (" + String.join(" ", cmd) + "): " + e.getMessage()
                    + "; it needs Debian's python3-torch: benchmarks/peers/setup-pytorch.sh installs it", e);
        }
    }

    static Path script() throws IOException {
        String env = setting("WRPN_TORCH_PEER", "wrpn.torchPeer");
        List<Path> tries = new ArrayList<>();
        if (env != null) tries.add(Path.of(env));
        Path rel = Path.of("benchmarks", "peers", "pytorch_wrpn.py");
        tries.add(rel.toAbsolutePath());
        try {
            Path jar = Path.of(TorchPeer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path d = jar.getParent(); d != null; d = d.getParent()) tries.add(d.resolve(rel));
        } catch (Exception e) { // no code source: the working directory is all we have
        }
        for (Path p : tries) if (Files.isRegularFile(p)) return p;
        throw new IOException("cannot find " + rel + " (looked at " + tries + "; set WRPN_TORCH_PEER)");
    }

    /** The environment variable, else the system property (tests set those), else null. */
    private static String setting(String env, String property) {
        String v = System.getenv(env);
        return v != null ? v : System.getProperty(property);
    }

    /** What the peer reported: torch version, threads, Python, oneDNN, machine. */
    public Map<String, Object> describe() {
        return hello;
    }

    /** Builds the configuration in the peer (if it is not the one already built) and warms it up; returns its reply. */
    public Map<String, Object> setup(String model, double width, int bits, int batch) throws IOException {
        String key = model + "/" + width + "/" + bits + "/" + batch;
        if (key.equals(setUpFor)) return setup;
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("op", "setup");
        req.put("model", model);
        req.put("width", width);
        req.put("bits", bits);
        req.put("batch", batch);
        req.put("warmup", 3);
        setup = ask(req);
        setUpFor = key;
        return setup;
    }

    /** Seconds of `steps` PyTorch training steps of the configuration set up last. */
    public double[] time(int steps) throws IOException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("op", "time");
        req.put("steps", steps);
        List<?> ts = (List<?>) ask(req).get("times");
        double[] s = new double[ts.size()];
        for (int i = 0; i < s.length; i++) s[i] = ((Number) ts.get(i)).doubleValue();
        return s;
    }

    private Map<String, Object> ask(Map<String, Object> req) throws IOException {
        in.write(JSON.writeValueAsString(req));
        in.newLine();
        in.flush();
        String line = out.readLine();
        if (line == null) throw new IOException("the PyTorch peer exited (status " + waitExit() + ")");
        Map<String, Object> reply = JSON.readValue(line, MAP);
        if (reply.containsKey("error")) throw new IOException("PyTorch peer: " + reply.get("error"));
        return reply;
    }

    private String waitExit() {
        try {
            return process.waitFor(10, TimeUnit.SECONDS) ? String.valueOf(process.exitValue()) : "still running";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    @Override
    public void close() {
        try {
            ask(Map.of("op", "quit"));
        } catch (IOException | RuntimeException e) { // it is going away either way
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
