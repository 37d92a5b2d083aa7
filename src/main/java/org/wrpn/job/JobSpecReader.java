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
import java.util.function.BiFunction;
import java.util.function.Function;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.data.Cifar10Reader;
import org.wrpn.job.JobSpec.Field;
import org.wrpn.job.JobSpec.Type;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.models.Models;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.LrSchedule;
import org.wrpn.train.QuantizedWeightRecipe;
import org.wrpn.train.TrainConfig;

/**
 * Reads a {@link JobSpec} from JSON and from flags given beside it: strict JSON, typed reads that
 * name the JSON path (or the flag) of a bad value, and the checks the schema cannot express.
 */
final class JobSpecReader {
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Editors add it to point at the schema; it is accepted and ignored. */
    private static final String SCHEMA_KEY = "$schema";

    private JobSpecReader() {}

    static JsonNode readTree(Path file) {
        try {
            return tree(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new BadInputException("job spec " + file + " does not exist");
        } catch (IOException e) {
            throw new BadInputException("job spec " + file + " cannot be read: " + ExitCode.oneLine(e.getMessage()));
        }
    }

    static JsonNode tree(String json, String source) {
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

    /** See {@link JobSpec#fromJson}. */
    static JobSpec fromJson(JsonNode document, String source, ObjectNode fromFlags) {
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
                if (JobSpec.field(key) == null) throw new BadInputException(source + ": " + path(key) + ": unknown key" + suggestion(key));
                values.put(key, e.getValue());
                where.put(key, source + ": " + path(key));
            }
        }
        if (fromFlags != null) {
            for (Map.Entry<String, JsonNode> e : fromFlags.properties()) {
                Field f = JobSpec.field(e.getKey());
                if (f == null) throw new IllegalArgumentException("no spec key " + e.getKey());
                values.put(f.key(), e.getValue());
                where.put(f.key(), f.flag());
            }
        }
        return build(new Values(values, key -> where.getOrDefault(key, path(key))));
    }

    private static JobSpec build(Values v) {
        TrainConfig d = TrainConfig.defaults();
        String model = v.string("model", d.model());
        if (!Models.NAMES.contains(model)) {
            throw new BadInputException(v.where("model") + ": unknown model '" + model + "'; choose one of "
                    + String.join(", ", Models.NAMES));
        }
        double width = v.number("width", d.widthMultiplier());
        int wbits = v.integer("wbits", d.weightBits());
        int abits = v.integer("abits", d.activationBits());
        Map<String, LayerPrecision> layerBits = layerBits(v.byKey().get("layer_bits"), v.where("layer_bits"));
        TrainConfig config;
        try {
            config = TrainConfig.builder()
                    .model(model)
                    .widthMultiplier(width)
                    .weightBits(wbits)
                    .activationBits(abits)
                    .layerBits(layerBitsFlag(layerBits))
                    .save(SaveChoice.parse(v.string("save", d.save().flag())))
                    .data(v.path("data", d.data()))
                    .batch(v.integer("batch", d.batch()))
                    .epochs(v.integer("epochs", d.epochs()))
                    .lr(v.number("lr", d.lr()))
                    .momentum(v.number("momentum", d.momentum()))
                    .weightDecay(v.number("weight_decay", d.weightDecay()))
                    .quantizedWeightDecay(v.read("quantized_weight_decay", d.quantizedWeightDecay(), autoOr(JobSpecReader::asNumber)))
                    .clipWeights(v.read("clip_weights", d.clipWeights(), autoOr(JobSpecReader::asBoolean)))
                    .quantizedLrScale(v.read("quantized_lr_scale", d.quantizedLrScale(), autoOr(JobSpecReader::asNumber)))
                    .quantizedLrFanIn(v.read("quantized_lr_fan_in", d.quantizedLrFanIn(), JobSpecReader::asBoolean))
                    .schedule(LrSchedule.Kind.parse(v.string("schedule", d.schedule().flag())))
                    .warmupEpochs(v.number("warmup", d.warmupEpochs()))
                    .seed(v.longInteger("seed", d.seed()))
                    .out(v.path("out", d.out()))
                    .checkpointEvery(v.integer("checkpoint_every", d.checkpointEvery()))
                    .limitTrain(v.integer("limit_train", d.limitTrain()))
                    .limitTest(v.integer("limit_test", d.limitTest()))
                    .device(Device.parse(v.string("device", d.device().flag())))
                    .keepCheckpoints(v.integer("keep_checkpoints", d.keepCheckpoints()))
                    .imageSize(v.integer("image_size", d.imageSize()))
                    .decodeThreads(v.integer("decode_threads", d.decodeThreads()))
                    .nproc(v.integer("nproc", d.nproc()))
                    .syncBatchNorm(v.read("sync_batch_norm", d.syncBatchNorm(), JobSpecReader::asBoolean))
                    .rankTimeoutSeconds(v.integer("rank_timeout", d.rankTimeoutSeconds()))
                    .build();
        } catch (BadInputException e) {
            throw located(e, v::where);
        }
        checkLayerNames(config, layerBits, v.where("layer_bits"));
        Path checkpointDir = v.path("checkpoint_dir", null);
        String resume = v.string("resume", JobSpec.RESUME_AUTO);
        if (resume.isBlank()) throw new BadInputException(v.where("resume") + " must be auto, never or a checkpoint path");
        return new JobSpec(config, checkpointDir, resume, v.read("overwrite", false, JobSpecReader::asBoolean));
    }

    /** Rewrites TrainConfig's "--flag must ..." as "<where> must ..." for the field the message names. */
    private static BadInputException located(BadInputException e, Function<String, String> where) {
        String m = e.getMessage();
        for (Field f : JobSpec.FIELDS) {
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
        int k = asInt(n, at);
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
        var net = Models.build(c.model(), c.widthMultiplier(), PrecisionPolicy.uniform(c.weightBits(), c.activationBits()),
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

    /** A spec's values by key; where names a key (its JSON path or flag) in error messages. */
    private record Values(Map<String, JsonNode> byKey, Function<String, String> where) {
        String where(String key) {
            return where.apply(key);
        }

        /** The value of key as the type {@code as} reads, or dflt when the key is missing. */
        <T> T read(String key, T dflt, BiFunction<JsonNode, String, T> as) {
            JsonNode n = byKey.get(key);
            return n == null ? dflt : as.apply(n, where(key));
        }

        String string(String key, String dflt) {
            return read(key, dflt, JobSpecReader::asText);
        }

        Path path(String key, Path dflt) {
            return read(key, dflt, JobSpecReader::asPath);
        }

        double number(String key, double dflt) {
            return read(key, dflt, JobSpecReader::asNumber);
        }

        long longInteger(String key, long dflt) {
            return read(key, dflt, JobSpecReader::asLong);
        }

        int integer(String key, int dflt) {
            boolean count = JobSpec.field(key).type() == Type.NON_NEGATIVE_INT;
            return read(key, dflt, (n, at) -> {
                int i = asInt(n, at);
                if (count && i < 0) throw new BadInputException(at + " must be >= 0, got " + i);
                return i;
            });
        }
    }

    private static String asText(JsonNode n, String at) {
        if (!n.isTextual()) throw new BadInputException(at + " must be a string, got " + describe(n));
        return n.asText();
    }

    private static Path asPath(JsonNode n, String at) {
        String s = asText(n, at);
        if (s.isBlank()) throw new BadInputException(at + " must be a non-empty path");
        try {
            return Path.of(s);
        } catch (java.nio.file.InvalidPathException e) {
            throw new BadInputException(at + " is not a valid path: " + e.getReason());
        }
    }

    /** Reads "auto" as null (the setting's per-bit-width default), anything else as {@code as} does. */
    private static <T> BiFunction<JsonNode, String, T> autoOr(BiFunction<JsonNode, String, T> as) {
        return (n, at) -> n.isTextual() && n.asText().equals(QuantizedWeightRecipe.AUTO) ? null : as.apply(n, at);
    }

    private static boolean asBoolean(JsonNode n, String at) {
        if (!n.isBoolean()) throw new BadInputException(at + " must be true or false, got " + describe(n));
        return n.asBoolean();
    }

    private static double asNumber(JsonNode n, String at) {
        if (!n.isNumber()) throw new BadInputException(at + " must be a number, got " + describe(n));
        return n.asDouble();
    }

    private static long asLong(JsonNode n, String at) {
        if (!isIntegral(n) || !n.canConvertToLong()) {
            throw new BadInputException(at + " must be an integer within 64 bits, got " + describe(n));
        }
        return n.asLong();
    }

    private static int asInt(JsonNode n, String at) {
        if (!isIntegral(n)) throw new BadInputException(at + " must be an integer, got " + describe(n));
        if (!n.canConvertToInt()) throw new BadInputException(at + " is out of range: " + n);
        return n.asInt();
    }

    /** JSON Schema's "integer": any number without a fractional part (so 64.0 counts). */
    private static boolean isIntegral(JsonNode n) {
        if (n.isIntegralNumber()) return true;
        return n.isNumber() && Math.rint(n.asDouble()) == n.asDouble() && !Double.isInfinite(n.asDouble());
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
        for (Field f : JobSpec.FIELDS) {
            int d = editDistance(k, f.key());
            if (d < bestDistance) {
                bestDistance = d;
                best = f.key();
            }
        }
        return best != null ? "; did you mean \"" + best + "\"?" : "; known keys: " + String.join(", ", JobSpec.keys());
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
}
