package org.wrpn.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;

/**
 * A training job as a scheduler submits it: the {@link TrainConfig} of the run, where its
 * checkpoints go, and whether a start resumes from them. Its JSON form (schema:
 * docs/job-spec.schema.json) has one key per `wrpn train` flag, in snake case; `wrpn train --spec FILE`
 * reads it and flags given beside it override its keys. Unknown keys and bad values are refused
 * with the JSON path of the problem, e.g. {@code job.json: $.wbits must be one of 1, 2, 4, 8, 32; got 3}
 * (the reading is {@link JobSpecReader}'s).
 *
 * @param checkpointDir where checkpoints are written and looked for; null means OUT/checkpoints
 * @param resume "auto" (the newest loadable checkpoint in the checkpoint directory, if any and if it
 *     belongs to the same run), "never" (start over) or the path of a checkpoint or run directory,
 *     whose own config the run then continues with
 * @param overwrite start a new run where another run's files are (refused otherwise, unless resume
 *     applies); the old files are deleted once the new run's first checkpoint is durable
 */
public record JobSpec(TrainConfig config, Path checkpointDir, String resume, boolean overwrite) {
    public static final String RESUME_AUTO = "auto";
    public static final String RESUME_NEVER = "never";

    enum Type { STRING, PATH, INT, NON_NEGATIVE_INT, LONG, NUMBER, LAYER_BITS, BOOLEAN }

    /** One key of the JSON form and the flag it mirrors. */
    record Field(String key, String flag, Type type) {}

    /** The keys in the order of the schema. */
    static final List<Field> FIELDS = List.of(
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
            new Field("quantized_weight_decay", "--quantized-weight-decay", Type.NUMBER),
            new Field("clip_weights", "--clip-weights", Type.BOOLEAN),
            new Field("quantized_lr_scale", "--quantized-lr-scale", Type.NUMBER),
            new Field("quantized_lr_fan_in", "--quantized-lr-fan-in", Type.BOOLEAN),
            new Field("schedule", "--schedule", Type.STRING),
            new Field("warmup", "--warmup", Type.NUMBER),
            new Field("seed", "--seed", Type.LONG),
            new Field("device", "--device", Type.STRING),
            new Field("out", "--out", Type.PATH),
            new Field("checkpoint_dir", "--checkpoint-dir", Type.PATH),
            new Field("checkpoint_every", "--checkpoint-every", Type.NON_NEGATIVE_INT),
            new Field("keep_checkpoints", "--keep-checkpoints", Type.NON_NEGATIVE_INT),
            new Field("limit_train", "--limit-train", Type.NON_NEGATIVE_INT),
            new Field("limit_test", "--limit-test", Type.NON_NEGATIVE_INT),
            new Field("image_size", "--image-size", Type.INT),
            new Field("decode_threads", "--decode-threads", Type.NON_NEGATIVE_INT),
            new Field("nproc", "--nproc", Type.INT),
            new Field("sync_batch_norm", "--sync-batch-norm", Type.BOOLEAN),
            new Field("rank_timeout", "--rank-timeout", Type.INT),
            new Field("resume", "--resume", Type.STRING),
            new Field("overwrite", "--overwrite", Type.BOOLEAN));

    public JobSpec {
        Objects.requireNonNull(config, "config");
        if (resume == null || resume.isBlank()) resume = RESUME_AUTO;
    }

    /** A spec that never overwrites another run. */
    public JobSpec(TrainConfig config, Path checkpointDir, String resume) {
        this(config, checkpointDir, resume, false);
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
        return new JobSpec(config.toBuilder().out(out).build(), checkpointDir, resume, overwrite);
    }

    public JobSpec withResume(String r) {
        return new JobSpec(config, checkpointDir, r, overwrite);
    }

    public JobSpec withCheckpointDir(Path dir) {
        return new JobSpec(config, dir, resume, overwrite);
    }

    public JobSpec withOverwrite(boolean o) {
        return new JobSpec(config, checkpointDir, resume, o);
    }

    /** Keys that may differ between a run and the checkpoint it resumes: they do not change the weights. */
    private static final Set<String> SAME_RUN_IGNORES = Set.of("out", "data", "device", "limit_test", "resume", "checkpoint_dir",
            "checkpoint_every", "decode_threads", "nproc", "rank_timeout",
            "keep_checkpoints", "overwrite");

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

    /** The `wrpn train` flag of a JSON key, or null for an unknown key. */
    public static String flagOfKey(String key) {
        Field f = field(key);
        return f == null ? null : f.flag();
    }

    static Field field(String key) {
        for (Field f : FIELDS) if (f.key().equals(key)) return f;
        return null;
    }

    // ---- reading (JobSpecReader) ----

    /** Reads a spec file. */
    public static JobSpec read(Path file) {
        return fromJson(readTree(file), file.toString(), null);
    }

    /** Reads a spec file as JSON, without interpreting it (see {@link #fromJson}). */
    public static JsonNode readTree(Path file) {
        return JobSpecReader.readTree(file);
    }

    /** Parses a spec; source names it in error messages (a file name, or e.g. "request 42"). */
    public static JobSpec parse(String json, String source) {
        return fromJson(tree(json, source), source, null);
    }

    /** Parses JSON text, refusing duplicate keys and trailing content, with the position of a syntax error. */
    public static JsonNode tree(String json, String source) {
        return JobSpecReader.tree(json, source);
    }

    /**
     * A spec from a parsed document and flags given beside it (either may be null). Keys in
     * {@code fromFlags} override the document's and are named by their flags in error messages;
     * keys missing from both take `wrpn train`'s defaults (resume: "auto").
     */
    public static JobSpec fromJson(JsonNode document, String source, ObjectNode fromFlags) {
        return JobSpecReader.fromJson(document, source, fromFlags);
    }

    // ---- writing ----

    /** The spec as JSON: every key, layer_bits as an object; checkpoint_dir only when set. */
    public ObjectNode toJson() {
        ObjectNode o = Checkpoint.configJson(config); // the sidecar's config has the spec's keys
        ObjectNode lb = JobSpecReader.JSON.createObjectNode();
        PrecisionPolicy.parseOverrides(config.layerBits()).forEach((layer, p) -> {
            ObjectNode e = lb.putObject(layer);
            e.put("wbits", p.weightBits());
            e.put("abits", p.inputBits());
        });
        o.set("layer_bits", lb);
        if (checkpointDir != null) o.put("checkpoint_dir", checkpointDir.toString());
        o.put("resume", resume);
        o.put("overwrite", overwrite);
        return o;
    }

    /** Pretty-printed {@link #toJson()}. */
    public String toJsonString() {
        try {
            return JobSpecReader.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
