package org.wrpn.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.backend.Device;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Architecture;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.models.Models;

/**
 * A checkpoint: weights, BN statistics and momentum buffers in a safetensors file, plus a JSON sidecar
 * with the config, progress, normalization, the network's architecture ({@link Architecture}, also in
 * the safetensors metadata) and the weights file's SHA-256. The weights are written
 * first, the sidecar last (each atomically), so a crash at any point leaves the previous checkpoint
 * whole; loading starts from the sidecar and refuses a weights file whose hash does not match.
 */
public final class Checkpoint {
    public static final String FORMAT = "wrpn-checkpoint";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MOMENTUM_PREFIX = "optimizer.momentum.";

    /** Progress of a run: epochs fully done, steps done in the current epoch, and steps overall. */
    public record Progress(int epoch, int stepInEpoch, long globalStep) {}

    /** A loaded sidecar, weights not yet applied. */
    public record Loaded(Path sidecar, Path weights, TrainConfig config, Progress progress, Normalization normalization,
            int height, int imageWidth, int channels, int classes, List<String> classNames, Map<String, Object> metrics,
            Safetensors.Contents contents, JsonNode architecture, int ranks) {
        /** The network this checkpoint holds: from its architecture, or (older sidecars) from its config. */
        public Network network() {
            return architecture != null ? Architecture.build(architecture)
                    : Models.build(config.model(), config.widthMultiplier(), config.precisionPolicy(), height, imageWidth, channels, classes);
        }
    }

    private Checkpoint() {}

    public static Path sidecarFor(Path weights) {
        String n = weights.getFileName().toString();
        return weights.resolveSibling(n.substring(0, n.length() - ".safetensors".length()) + ".json");
    }

    /**
     * Writes a checkpoint into dir and returns the sidecar path; classNames (may be empty) are the
     * data's, by index; ranks: the data-parallel ranks that trained it (global batch = ranks x batch).
     */
    public static Path save(Path dir, Network net, TrainConfig config, Progress progress, Normalization norm,
            List<String> classNames, Map<String, Object> metrics, int ranks) throws IOException {
        Files.createDirectories(dir);
        String stem = String.format("ckpt-e%03d-s%08d", progress.epoch(), progress.globalStep());
        Path weights = dir.resolve(stem + ".safetensors");
        Path sidecar = dir.resolve(stem + ".json");
        Backend b = net.backend();
        List<NamedArray> tensors = new ArrayList<>();
        for (Parameter p : net.parameters()) {
            float[] v = new float[(int) p.shape().elements()];
            b.download(p.value(), v);
            tensors.add(NamedArray.f32(p.name(), p.shape().dims(), v));
        }
        for (Parameter p : net.trainableParameters()) {
            float[] v = new float[(int) p.shape().elements()];
            b.download(p.velocity(), v);
            tensors.add(NamedArray.f32(MOMENTUM_PREFIX + p.name(), p.shape().dims(), v));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("model", config.model());
        ObjectNode architecture = Architecture.describe(net, norm.mean(), norm.std());
        meta.put("architecture", JSON.writeValueAsString(architecture));
        Safetensors.write(weights, tensors, meta);

        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.put("weights_file", weights.getFileName().toString());
        root.put("weights_sha256", sha256(weights));
        root.set("config", configJson(config));
        ObjectNode input = root.putObject("input");
        input.put("height", net.inputHeight());
        input.put("width", net.inputWidth());
        input.put("channels", net.inputChannels());
        input.put("classes", net.classes());
        if (!classNames.isEmpty()) {
            ArrayNode names = input.putArray("class_names"); // class index -> name, as the data's folders
            classNames.forEach(names::add);
        }
        ObjectNode n = root.putObject("normalization");
        ArrayNode mean = n.putArray("mean");
        for (float f : norm.mean()) mean.add(f);
        ArrayNode std = n.putArray("std");
        for (float f : norm.std()) std.add(f);
        ObjectNode prog = root.putObject("progress");
        prog.put("epoch", progress.epoch());
        prog.put("step_in_epoch", progress.stepInEpoch());
        prog.put("global_step", progress.globalStep());
        prog.put("ranks", ranks);
        root.set("metrics", JSON.valueToTree(metrics));
        root.set("architecture", architecture);
        AtomicFiles.writeString(sidecar, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        return sidecar;
    }

    /** The config as the sidecar records it; a job spec uses the same keys. */
    public static ObjectNode configJson(TrainConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", c.model());
        o.put("width", c.widthMultiplier());
        o.put("wbits", c.weightBits());
        o.put("abits", c.activationBits());
        o.put("layer_bits", c.layerBits());
        o.put("save", c.save().flag());
        o.put("data", c.data().toString());
        o.put("batch", c.batch());
        o.put("epochs", c.epochs());
        o.put("lr", c.lr());
        o.put("momentum", c.momentum());
        o.put("weight_decay", c.weightDecay());
        putOrAuto(o, "quantized_weight_decay", c.quantizedWeightDecay());
        putOrAuto(o, "clip_weights", c.clipWeights());
        putOrAuto(o, "quantized_lr_scale", c.quantizedLrScale());
        o.put("quantized_lr_fan_in", c.quantizedLrFanIn());
        o.put("schedule", c.schedule().flag());
        o.put("warmup", c.warmupEpochs());
        o.put("seed", c.seed());
        o.put("out", c.out().toString());
        o.put("checkpoint_every", c.checkpointEvery());
        o.put("limit_train", c.limitTrain());
        o.put("limit_test", c.limitTest());
        o.put("device", c.device().flag());
        o.put("keep_checkpoints", c.keepCheckpoints());
        o.put("image_size", c.imageSize());
        o.put("decode_threads", c.decodeThreads());
        o.put("nproc", c.nproc());
        o.put("sync_batch_norm", c.syncBatchNorm());
        o.put("rank_timeout", c.rankTimeoutSeconds());
        return o;
    }

    /** The config a sidecar's (or an export's) "config" object records. */
    public static TrainConfig configFrom(JsonNode o) {
        return TrainConfig.builder().model(text(o, "model")).widthMultiplier(num(o, "width")).weightBits((int) num(o, "wbits"))
                .activationBits((int) num(o, "abits")).layerBits(text(o, "layer_bits")).save(SaveChoice.parse(text(o, "save")))
                .data(Path.of(text(o, "data"))).batch((int) num(o, "batch")).epochs((int) num(o, "epochs")).lr(num(o, "lr"))
                .momentum(num(o, "momentum")).weightDecay(num(o, "weight_decay")).schedule(LrSchedule.Kind.parse(text(o, "schedule")))
                .warmupEpochs(num(o, "warmup")).seed((long) num(o, "seed")).out(Path.of(text(o, "out")))
                .checkpointEvery((int) num(o, "checkpoint_every")).limitTrain((int) num(o, "limit_train"))
                .limitTest((int) num(o, "limit_test")).device(Device.parse(text(o, "device")))
                .keepCheckpoints(o.path("keep_checkpoints").asInt(TrainConfig.DEFAULT_KEEP_CHECKPOINTS))
                // checkpoints from before these settings decayed every weight alike and never clipped
                .quantizedWeightDecay(orAuto(o, "quantized_weight_decay", num(o, "weight_decay"), JsonNode::asDouble))
                .clipWeights(orAuto(o, "clip_weights", false, JsonNode::asBoolean))
                .quantizedLrScale(orAuto(o, "quantized_lr_scale", 1.0, JsonNode::asDouble))
                .quantizedLrFanIn(o.path("quantized_lr_fan_in").asBoolean(false))
                .imageSize(o.path("image_size").asInt(TrainConfig.defaults().imageSize()))
                .decodeThreads(o.path("decode_threads").asInt(0)).nproc(o.path("nproc").asInt(1))
                .syncBatchNorm(o.path("sync_batch_norm").asBoolean(false))
                .rankTimeoutSeconds(o.path("rank_timeout").asInt(TrainConfig.DEFAULT_RANK_TIMEOUT_SECONDS)).build();
    }

    /** "auto" for a setting left to its per-bit-width default (null). */
    private static void putOrAuto(ObjectNode o, String key, Object v) {
        if (v == null) o.put(key, QuantizedWeightRecipe.AUTO);
        else if (v instanceof Boolean b) o.put(key, b);
        else o.put(key, ((Number) v).doubleValue());
    }

    /** The setting, null for "auto", or missing (a sidecar older than the setting) for what it meant then. */
    private static <T> T orAuto(JsonNode o, String key, T missing, java.util.function.Function<JsonNode, T> as) {
        JsonNode n = o.get(key);
        if (n == null) return missing;
        return n.isTextual() && QuantizedWeightRecipe.AUTO.equals(n.asText()) ? null : as.apply(n);
    }

    private static String text(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.isTextual()) throw new IllegalArgumentException("missing text field config." + key);
        return v.asText();
    }

    private static double num(JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException("missing numeric field config." + key);
        return v.asDouble();
    }

    /** Resolves a --resume/--checkpoint argument: a sidecar, a weights file, or a directory (newest). */
    public static Path resolve(Path p) {
        if (Files.isDirectory(p)) {
            Path newest = newestIn(p);
            if (newest == null) throw new BadInputException("no checkpoint (*.json sidecar) found in " + p);
            return newest;
        }
        String n = p.getFileName().toString();
        if (n.endsWith(".safetensors")) return sidecarFor(p);
        if (!Files.exists(p)) throw new BadInputException("checkpoint " + p + " does not exist");
        return p;
    }

    /**
     * Newest loadable sidecar in dir (or its checkpoints/ subfolder), by global step; null if none.
     * Sidecars are ordered by the step they claim and validated newest first, so only the chosen
     * one (and any damaged newer ones) are hashed.
     */
    public static Path newestIn(Path dir) {
        Path sub = dir.resolve("checkpoints");
        Path where = Files.isDirectory(sub) ? sub : dir;
        List<Path> sidecars;
        try (Stream<Path> s = Files.list(where)) {
            sidecars = new ArrayList<>(s.filter(f -> f.getFileName().toString().matches("ckpt-.*\\.json")).toList());
        } catch (IOException e) {
            throw new BadInputException("cannot list checkpoints in " + where + ": " + e.getMessage());
        }
        Map<Path, Long> claimed = new HashMap<>();
        for (Path p : sidecars) claimed.put(p, claimedStep(p));
        sidecars.sort(Comparator.comparingLong((Path p) -> claimed.get(p)).reversed().thenComparing(Path::toString));
        for (Path p : sidecars) {
            try {
                load(p);
                return p;
            } catch (BadInputException ignored) {
                // a damaged checkpoint is skipped: an older good one is still a valid resume point
            }
        }
        return null;
    }

    /** The global step a sidecar says it holds, without validating it; -1 when unreadable. */
    private static long claimedStep(Path sidecar) {
        try {
            return JSON.readTree(sidecar.toFile()).path("progress").path("global_step").asLong(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Reads and validates a sidecar and its weights file (hash and contents). Applies nothing. */
    public static Loaded load(Path sidecar) {
        JsonNode root;
        try {
            root = JSON.readTree(sidecar.toFile());
        } catch (NoSuchFileException e) {
            throw new BadInputException("checkpoint " + sidecar + " does not exist");
        } catch (IOException e) {
            throw new BadInputException("checkpoint " + sidecar + " is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText())) {
            throw new BadInputException("checkpoint " + sidecar + " is not a wrpn checkpoint sidecar");
        }
        if (root.path("version").asInt() != VERSION) {
            throw new BadInputException("checkpoint " + sidecar + " has version " + root.path("version") + ", this wrpn reads " + VERSION);
        }
        try {
            Path weights = sidecar.resolveSibling(root.get("weights_file").asText());
            if (!Files.exists(weights)) throw new BadInputException("checkpoint weights " + weights + " are missing");
            String expected = root.get("weights_sha256").asText();
            String actual = sha256(weights);
            if (!expected.equals(actual)) {
                throw new BadInputException("checkpoint weights " + weights + " are corrupt (SHA-256 does not match the sidecar)");
            }
            Safetensors.Contents contents = Safetensors.read(weights);
            TrainConfig config = configFrom(root.get("config"));
            JsonNode in = root.get("input");
            JsonNode norm = root.get("normalization");
            float[] mean = floats(norm.get("mean"));
            float[] std = floats(norm.get("std"));
            JsonNode prog = root.get("progress");
            Progress progress = new Progress(prog.get("epoch").asInt(), prog.get("step_in_epoch").asInt(), prog.get("global_step").asLong());
            @SuppressWarnings("unchecked")
            Map<String, Object> metrics = JSON.convertValue(root.path("metrics"), Map.class);
            JsonNode architecture = root.get("architecture"); // absent in sidecars written before it existed
            if (architecture != null) {
                try {
                    Architecture.validate(architecture);
                } catch (BadInputException e) {
                    throw new BadInputException("checkpoint " + sidecar + ": " + e.getMessage());
                }
            }
            return new Loaded(sidecar, weights, config, progress, new Normalization(mean, std), in.get("height").asInt(),
                    in.get("width").asInt(), in.get("channels").asInt(), in.get("classes").asInt(), strings(in.path("class_names")),
                    metrics == null ? Map.of() : metrics, contents, architecture, prog.path("ranks").asInt(1));
        } catch (BadInputException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new BadInputException("checkpoint " + sidecar + " is malformed: " + firstLine(String.valueOf(e.getMessage())));
        }
    }

    private static List<String> strings(JsonNode arr) {
        List<String> out = new ArrayList<>();
        arr.forEach(v -> out.add(v.asText()));
        return List.copyOf(out);
    }

    private static float[] floats(JsonNode arr) {
        float[] f = new float[arr.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) arr.get(i).asDouble();
        return f;
    }

    /**
     * Copies weights (and momentum, when withOptimizer) into the network. Every tensor is checked
     * against the network first, so a mismatched checkpoint is refused before anything is changed.
     */
    public static void apply(Loaded l, Network net, boolean withOptimizer) {
        Safetensors.Contents c = l.contents();
        List<Runnable> writes = new ArrayList<>();
        Backend b = net.backend();
        for (Parameter p : net.parameters()) {
            writes.add(planWrite(l, c, p.name(), p, p.value(), b));
        }
        if (withOptimizer) {
            for (Parameter p : net.trainableParameters()) {
                writes.add(planWrite(l, c, MOMENTUM_PREFIX + p.name(), p, p.velocity(), b));
            }
        }
        int expected = net.parameters().size() + net.trainableParameters().size();
        if (c.tensors().size() != expected) {
            throw new BadInputException("checkpoint " + l.weights() + " holds " + c.tensors().size() + " tensors, the "
                    + net.model() + " network needs " + expected + ": it was made for a different model");
        }
        writes.forEach(Runnable::run);
    }

    private static Runnable planWrite(Loaded l, Safetensors.Contents c, String name, Parameter p,
            org.wrpn.tensor.Tensor target, Backend b) {
        NamedArray a = c.tensors().get(name);
        if (a == null) throw new BadInputException("checkpoint " + l.weights() + " lacks tensor " + name + ": it was made for a different model");
        if (a.dtype() != NamedArray.Dtype.F32 || !java.util.Arrays.equals(a.shape(), p.shape().dims())) {
            throw new BadInputException("checkpoint tensor " + name + " has shape " + java.util.Arrays.toString(a.shape())
                    + ", the network needs " + p.shape() + ": it was made for a different width or model");
        }
        float[] data = a.floats();
        return () -> b.upload(data, target);
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            byte[] buf = new byte[1 << 16];
            while (in.read(buf) >= 0) {
                // digest accumulates as it reads
            }
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
