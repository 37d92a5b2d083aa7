package org.wrpn.job;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.wrpn.BadInputException;
import org.wrpn.data.Cifar10Reader;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;

/**
 * A training job as a scheduler submits it: the {@link TrainConfig} of the run, where its
 * checkpoints go, and whether a start resumes from them. Its JSON form (schema:
 * docs/job-spec.schema.json) has one key per `wrpn train` flag, in snake case; `wrpn train --spec FILE`
 * reads it and flags given beside it override its keys. Unknown keys and bad values are refused
 * with the JSON path of the problem, e.g. {@code job.json: $.wbits must be one of 1, 2, 4, 8, 32; got 3}.
 *
 * @param checkpointDir where checkpoints are written and looked for; null means OUT/checkpoints
 * @param resume "auto" (the newest loadable checkpoint in the checkpoint directory, if any and if it
 *     belongs to the same run), "never" (start over) or the path of a checkpoint or run directory,
 *     whose own config the run then continues with
 */
public record JobSpec(TrainConfig config, Path checkpointDir, String resume) {
    public static final String RESUME_AUTO = "auto";
    public static final String RESUME_NEVER = "never";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private enum Type { STRING, PATH, INT, NON_NEGATIVE_INT, LONG, NUMBER, LAYER_BITS }

    /** One key of the JSON form and the flag it mirrors. */
    private record Field(String key, String flag, Type type) {}

    private static final List<Field> FIELDS = List.of(
            new Field("model", "--model", Type.STRING),
            new Field("width", "--width", Type.NUMBER),
            new Field("wbits", "--wbits", Type.INT),
            new Field("abits", "--abits", Type.INT),
            new Field("layer_bits", "--layer-bits", Type.LAYER_BITS),
            new Field("save", "--save", Type.STRING),
            new Field("data", "--data", Type.PATH),
            new Field("batch", "--batch", Type.INT),
            new Field("epochs", "--epochs", Type.INT),
            new Field("lr", "--lr", Type.NUMBER),
            new Field("momentum", "--momentum", Type.NUMBER),
            new Field("weight_decay", "--weight-decay", Type.NUMBER),
            new Field("schedule", "--schedule", Type.STRING),
            new Field("warmup", "--warmup", Type.NUMBER),
            new Field("seed", "--seed", Type.LONG),
            new Field("device", "--device", Type.STRING),
            new Field("out", "--out", Type.PATH),
            new Field("checkpoint_dir", "--checkpoint-dir", Type.PATH),
            new Field("checkpoint_every", "--checkpoint-every", Type.NON_NEGATIVE_INT),
            new Field("limit_train", "--limit-train", Type.NON_NEGATIVE_INT),
            new Field("limit_test", "--limit-test", Type.NON_NEGATIVE_INT),
            new Field("resume", "--resume", Type.STRING));

    /** Editors add it to point at the schema; it is accepted and ignored. */
    private static final String SCHEMA_KEY = "$schema";

    public JobSpec {
        Objects.requireNonNull(config, "config");
        if (resume == null || resume.isBlank()) resume = RESUME_AUTO;
    }

    /** The spec of a config: checkpoints in OUT/checkpoints, resumed automatically. */
    public static JobSpec of(TrainConfig config) {
        return new JobSpec(config, null, RESUME_AUTO);
    }

    /** The checkpoint directory in effect. */
    public Path checkpoints() {
        return checkpointDir != null ? checkpointDir : config.out().resolve("checkpoints");
    }

    public JobSpec withOut(Path out) {
        return new JobSpec(config.withOut(out), checkpointDir, resume);
    }

    public JobSpec withResume(String r) {
        return new JobSpec(config, checkpointDir, r);
    }

    public JobSpec withCheckpointDir(Path dir) {
        return new JobSpec(config, dir, resume);
    }

    /** Keys that may differ between a run and the checkpoint it resumes: they do not change the weights. */
    private static final Set<String> SAME_RUN_IGNORES = Set.of("out", "data", "device", "limit_test", "resume", "checkpoint_dir",
            "checkpoint_every");

    /**
     * Why a checkpoint written under {@code theirs} is not a checkpoint of the run {@code ours}
     * describes, one "key is X there and Y here" per difference; empty when it is.
     */
    public static List<String> sameRunDifferences(TrainConfig theirs, TrainConfig ours) {
        ObjectNode a = of(theirs).toJson();
        ObjectNode b = of(ours).toJson();
        List<String> diffs = new ArrayList<>();
        for (String key : keys()) {
            if (SAME_RUN_IGNORES.contains(key)) continue;
            JsonNode x = a.get(key), y = b.get(key);
            if (x == null ? y != null : !x.equals(y)) diffs.add(key + " is " + x + " there and " + y + " here");
        }
        return diffs;
    }

    /** The JSON keys, in the order of the schema. */
    public static List<String> keys() {
        return FIELDS.stream().map(Field::key).toList();
    }

    /** The JSON key a `wrpn train` flag sets, or null for a flag that is not part of the spec. */
    public static String keyOfFlag(String flag) {
        for (Field f : FIELDS) if (f.flag().equals(flag)) return f.key();
        return null;
    }

    /** Reads a spec file. */
    public static JobSpec read(Path file) {
        return fromJson(readTree(file), file.toString(), null);
    }

    /** Reads a spec file as JSON, without interpreting it (see {@link #fromJson}). */
    public static JsonNode readTree(Path file) {
        try {
            return tree(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new BadInputException("job spec " + file + " does not exist");
        } catch (IOException e) {
            throw new BadInputException("job spec " + file + " cannot be read: " + ExitCode.oneLine(e.getMessage()));
        }
    }

    /** Parses a spec; source names it in error messages (a file name, or e.g. "request 42"). */
    public static JobSpec parse(String json, String source) {
        return fromJson(tree(json, source), source, null);
    }

    /** Parses JSON text, refusing duplicate keys and trailing content, with the position of a syntax error. */
    public static JsonNode tree(String json, String source) {
        try {
            JsonNode n = JSON.readTree(json);
            if (n == null || n.isMissingNode()) throw new BadInputException(source + ": the job spec is empty");
            return n;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new BadInputException(source + ": not valid JSON" + where + ": " + ExitCode.oneLine(e.getOriginalMessage()));
        }
    }

    /**
     * A spec from a parsed document and flags given beside it (either may be null). Keys in
     * {@code fromFlags} override the document's and are named by their flags in error messages;
     * keys missing from both take `wrpn train`'s defaults (resume: "auto").
     */
    public static JobSpec fromJson(JsonNode document, String source, ObjectNode fromFlags) {
        Map<String, JsonNode> values = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        if (document != null) {
            if (!document.isObject()) {
                throw new BadInputException(source + ": $: the job spec must be a JSON object, got " + describe(document));
            }
            for (Map.Entry<String, JsonNode> e : document.properties()) {
                String key = e.getKey();
                if (key.equals(SCHEMA_KEY)) {
                    if (!e.getValue().isTextual()) throw new BadInputException(source + ": " + path(key) + " must be a string");
                    continue;
                }
                if (field(key) == null) throw new BadInputException(source + ": " + path(key) + ": unknown key" + suggestion(key));
                values.put(key, e.getValue());
                where.put(key, source + ": " + path(key));
            }
        }
        if (fromFlags != null) {
            for (Map.Entry<String, JsonNode> e : fromFlags.properties()) {
                Field f = field(e.getKey());
                if (f == null) throw new IllegalArgumentException("no spec key " + e.getKey());
                values.put(f.key(), e.getValue());
                where.put(f.key(), f.flag());
            }
        }
        return build(values, key -> where.getOrDefault(key, path(key)));
    }

    private static JobSpec build(Map<String, JsonNode> v, Function<String, String> where) {
        TrainConfig d = TrainConfig.defaults();
        String model = string(v, "model", d.model(), where);
        if (!Models.NAMES.contains(model)) {
            throw new BadInputException(where.apply("model") + ": unknown model '" + model + "'; choose one of "
                    + String.join(", ", Models.NAMES));
        }
        double width = number(v, "width", d.width(), where);
        int wbits = integer(v, "wbits", d.weightBits(), where);
        int abits = integer(v, "abits", d.activationBits(), where);
        Map<String, LayerPrecision> layerBits = layerBits(v.get("layer_bits"), where.apply("layer_bits"));
        TrainConfig config;
        try {
            config = new TrainConfig(model, width, wbits, abits, layerBitsFlag(layerBits), string(v, "save", d.save(), where),
                    path(v, "data", d.data(), where), integer(v, "batch", d.batch(), where),
                    integer(v, "epochs", d.epochs(), where), number(v, "lr", d.lr(), where),
                    number(v, "momentum", d.momentum(), where), number(v, "weight_decay", d.weightDecay(), where),
                    string(v, "schedule", d.schedule(), where), number(v, "warmup", d.warmupEpochs(), where),
                    longInteger(v, "seed", d.seed(), where), path(v, "out", d.out(), where),
                    integer(v, "checkpoint_every", d.checkpointEvery(), where),
                    integer(v, "limit_train", d.limitTrain(), where), integer(v, "limit_test", d.limitTest(), where),
                    string(v, "device", d.device(), where));
        } catch (BadInputException e) {
            throw located(e, where);
        }
        checkLayerNames(config, layerBits, where.apply("layer_bits"));
        Path checkpointDir = v.containsKey("checkpoint_dir") ? path(v, "checkpoint_dir", null, where) : null;
        String resume = string(v, "resume", RESUME_AUTO, where);
        if (resume.isBlank()) throw new BadInputException(where.apply("resume") + " must be auto, never or a checkpoint path");
        return new JobSpec(config, checkpointDir, resume);
    }

    /** Rewrites TrainConfig's "--flag must ..." as "<where> must ..." for the field the message names. */
    private static BadInputException located(BadInputException e, Function<String, String> where) {
        String m = e.getMessage();
        for (Field f : FIELDS) {
            if (m.startsWith(f.flag() + " ") || m.startsWith(f.flag() + "/")) {
                return new BadInputException(where.apply(f.key()) + m.substring(f.flag().length()), e);
            }
        }
        return e;
    }

    /** Overrides as {"conv2": {"wbits": 8, "abits": 4}}; a flag's "conv2=8/4,..." text is accepted too. */
    private static Map<String, LayerPrecision> layerBits(JsonNode n, String where) {
        if (n == null) return Map.of();
        if (n.isTextual() && where.startsWith("--")) { // the flag's text form
            return PrecisionPolicy.parseOverrides(n.asText());
        }
        if (!n.isObject()) {
            throw new BadInputException(where + " must be an object like {\"conv2\": {\"wbits\": 8, \"abits\": 4}}, got " + describe(n));
        }
        Map<String, LayerPrecision> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : n.properties()) {
            String at = where + (isIdentifier(e.getKey()) ? "." + e.getKey() : "['" + e.getKey() + "']");
            JsonNode entry = e.getValue();
            if (!entry.isObject()) throw new BadInputException(at + " must be an object {\"wbits\": W, \"abits\": A}, got " + describe(entry));
            for (Map.Entry<String, JsonNode> p : entry.properties()) {
                String k = p.getKey();
                if (!k.equals("wbits") && !k.equals("abits")) throw new BadInputException(at + "." + k + ": unknown key; a layer takes wbits and abits");
            }
            int w = bits(entry.get("wbits"), at + ".wbits");
            int a = bits(entry.get("abits"), at + ".abits");
            m.put(e.getKey(), new LayerPrecision(w, a));
        }
        return m;
    }

    private static int bits(JsonNode n, String at) {
        if (n == null) throw new BadInputException(at + " is missing");
        int k = intValue(n, at);
        if (!Quantizer.isValidWeightBits(k) || !Quantizer.isValidActivationBits(k)) {
            throw new BadInputException(at + " must be one of 1, 2, 4, 8, 32; got " + k);
        }
        return k;
    }

    private static String layerBitsFlag(Map<String, LayerPrecision> m) {
        List<String> parts = new ArrayList<>();
        m.forEach((layer, p) -> parts.add(layer + "=" + p.weightBits() + "/" + p.inputBits()));
        return String.join(",", parts);
    }

    /** Layer names exist in the model, and the first layer reads the image at full precision. */
    private static void checkLayerNames(TrainConfig c, Map<String, LayerPrecision> overrides, String where) {
        if (overrides.isEmpty()) return;
        boolean cifar = !c.model().equals("lenet");
        // Layer names do not depend on the image size, so a nominal shape will do.
        var net = Models.build(c.model(), c.width(), PrecisionPolicy.uniform(c.weightBits(), c.activationBits()),
                cifar ? Cifar10Reader.SIDE : 28, cifar ? Cifar10Reader.SIDE : 28, cifar ? Cifar10Reader.CHANNELS : 1, 10);
        List<String> layers = new ArrayList<>(net.layerPrecisions().keySet());
        for (var e : overrides.entrySet()) {
            String at = where.startsWith("--") ? where + " " + e.getKey() : where + "." + e.getKey();
            if (!layers.contains(e.getKey())) {
                throw new BadInputException(at + ": unknown layer '" + e.getKey() + "' for model " + c.model() + "; layers: "
                        + String.join(", ", layers));
            }
            if (e.getKey().equals(layers.get(0)) && e.getValue().inputBits() != Quantizer.FULL_PRECISION) {
                throw new BadInputException(at + ": the first layer reads the image, its input bits (abits) must be 32");
            }
        }
    }

    // ---- typed reads, each naming the key on failure ----

    private static String string(Map<String, JsonNode> v, String key, String dflt, Function<String, String> where) {
        JsonNode n = v.get(key);
        if (n == null) return dflt;
        if (!n.isTextual()) throw new BadInputException(where.apply(key) + " must be a string, got " + describe(n));
        return n.asText();
    }

    private static Path path(Map<String, JsonNode> v, String key, Path dflt, Function<String, String> where) {
        JsonNode n = v.get(key);
        if (n == null) return dflt;
        String s = string(v, key, null, where);
        if (s.isBlank()) throw new BadInputException(where.apply(key) + " must be a non-empty path");
        try {
            return Path.of(s);
        } catch (java.nio.file.InvalidPathException e) {
            throw new BadInputException(where.apply(key) + " is not a valid path: " + e.getReason());
        }
    }

    private static double number(Map<String, JsonNode> v, String key, double dflt, Function<String, String> where) {
        JsonNode n = v.get(key);
        if (n == null) return dflt;
        if (!n.isNumber()) throw new BadInputException(where.apply(key) + " must be a number, got " + describe(n));
        return n.asDouble();
    }

    private static int integer(Map<String, JsonNode> v, String key, int dflt, Function<String, String> where) {
        JsonNode n = v.get(key);
        if (n == null) return dflt;
        int i = intValue(n, where.apply(key));
        if (field(key).type() == Type.NON_NEGATIVE_INT && i < 0) {
            throw new BadInputException(where.apply(key) + " must be >= 0, got " + i);
        }
        return i;
    }

    private static long longInteger(Map<String, JsonNode> v, String key, long dflt, Function<String, String> where) {
        JsonNode n = v.get(key);
        if (n == null) return dflt;
        if (!isIntegral(n) || !n.canConvertToLong()) {
            throw new BadInputException(where.apply(key) + " must be an integer within 64 bits, got " + describe(n));
        }
        return n.asLong();
    }

    private static int intValue(JsonNode n, String at) {
        if (!isIntegral(n)) throw new BadInputException(at + " must be an integer, got " + describe(n));
        if (!n.canConvertToInt()) throw new BadInputException(at + " is out of range: " + n);
        return n.asInt();
    }

    /** JSON Schema's "integer": any number without a fractional part (so 64.0 counts). */
    private static boolean isIntegral(JsonNode n) {
        if (n.isIntegralNumber()) return true;
        return n.isNumber() && Math.rint(n.asDouble()) == n.asDouble() && !Double.isInfinite(n.asDouble());
    }

    private static Field field(String key) {
        for (Field f : FIELDS) if (f.key().equals(key)) return f;
        return null;
    }

    private static String describe(JsonNode n) {
        if (n.isTextual()) return "the string " + JSON.valueToTree(n.asText());
        if (n.isNull()) return "null";
        if (n.isObject()) return "an object";
        if (n.isArray()) return "an array";
        if (n.isBoolean()) return n.asText();
        return n.toString();
    }

    private static String path(String key) {
        return isIdentifier(key) ? "$." + key : "$['" + key.replace("'", "\\'") + "']";
    }

    private static boolean isIdentifier(String key) {
        return key.matches("[A-Za-z_][A-Za-z0-9_]*");
    }

    /** "; did you mean X?" for a near miss, else the list of keys. */
    private static String suggestion(String key) {
        String k = key.toLowerCase(Locale.ROOT).replace('-', '_');
        String best = null;
        int bestDistance = 3;
        for (Field f : FIELDS) {
            int d = editDistance(k, f.key());
            if (d < bestDistance) {
                bestDistance = d;
                best = f.key();
            }
        }
        return best != null ? "; did you mean \"" + best + "\"?" : "; known keys: " + String.join(", ", keys());
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    // ---- writing ----

    /** The spec as JSON: every key, layer_bits as an object; checkpoint_dir only when set. */
    public ObjectNode toJson() {
        ObjectNode o = Checkpoint.configJson(config); // the sidecar's config has the spec's keys
        ObjectNode lb = JSON.createObjectNode();
        PrecisionPolicy.parseOverrides(config.layerBits()).forEach((layer, p) -> {
            ObjectNode e = lb.putObject(layer);
            e.put("wbits", p.weightBits());
            e.put("abits", p.inputBits());
        });
        o.set("layer_bits", lb);
        if (checkpointDir != null) o.put("checkpoint_dir", checkpointDir.toString());
        o.put("resume", resume);
        return o;
    }

    /** Pretty-printed {@link #toJson()}. */
    public String toJsonString() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
