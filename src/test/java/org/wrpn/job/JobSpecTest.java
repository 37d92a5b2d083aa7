package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.wrpn.BadInputException;
import org.wrpn.cli.Main;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.QuantizedWeightRecipe;
import org.wrpn.train.TrainConfig;

/** The JSON job spec: its parser, its published schema, and the CLI flags as a second view of it. */
class JobSpecTest {
    static final Path SCHEMA = Path.of("docs/job-spec.schema.json");
    static Schema schema;

    @BeforeAll
    static void loadSchema() throws IOException {
        schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(Files.readString(SCHEMA), InputFormat.JSON);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{}",
        "{\"model\": \"resnet20\", \"width\": 1.5, \"wbits\": 2, \"abits\": 2, \"batch\": 128, \"epochs\": 3, \"seed\": 42, \"device\": \"cpu\", \"save\": \"packed\"}",
        "{\"$schema\": \"../docs/job-spec.schema.json\", \"layer_bits\": {\"conv2\": {\"wbits\": 8, \"abits\": 4}}, \"checkpoint_dir\": \"/tmp/c\", \"checkpoint_every\": 10, \"resume\": \"never\"}",
        "{\"batch\": 64.0, \"wbits\": 32, \"abits\": 1, \"schedule\": \"step\"}",
        "{\"momentum\": 0, \"weight_decay\": 0, \"warmup\": 0, \"lr\": 1e-3, \"width\": 64, \"limit_train\": 0}",
        "{\"seed\": -5, \"resume\": \"runs/old/checkpoints\", \"data\": \"/data/cifar\", \"out\": \"runs/a\", \"model\": \"resnet18\"}",
        "{\"layer_bits\": {}, \"epochs\": 100000, \"batch\": 65536, \"limit_test\": 2147483647}",
        "{\"quantized_weight_decay\": \"auto\", \"clip_weights\": \"auto\", \"quantized_lr_scale\": \"auto\"}",
        "{\"quantized_weight_decay\": 0, \"clip_weights\": false, \"quantized_lr_scale\": 8, \"quantized_lr_fan_in\": true}",
    })
    void validExamplesPassBothTheSchemaAndTheParser(String json) {
        List<Error> errors = schema.validate(json, InputFormat.JSON);
        assertTrue(errors.isEmpty(), "schema: " + errors);
        JobSpec spec = JobSpec.parse(json, "job.json");
        assertEquals(spec, JobSpec.parse(spec.toJsonString(), "again"), "toJson round-trips");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "[] | $",
        "\"lenet\" | $",
        "{\"batchsize\": 64} | $.batchsize",
        "{\"wbits\": 3} | $.wbits",
        "{\"abits\": \"4\"} | $.abits",
        "{\"width\": 0} | $.width",
        "{\"width\": 65} | $.width",
        "{\"width\": \"wide\"} | $.width",
        "{\"batch\": 0} | $.batch",
        "{\"batch\": 1.5} | $.batch",
        "{\"batch\": 100000} | $.batch",
        "{\"batch\": 1e12} | $.batch",
        "{\"epochs\": 0} | $.epochs",
        "{\"lr\": 0} | $.lr",
        "{\"lr\": -1} | $.lr",
        "{\"momentum\": 1} | $.momentum",
        "{\"weight_decay\": -0.1} | $.weight_decay",
        "{\"warmup\": -1} | $.warmup",
        "{\"schedule\": \"linear\"} | $.schedule",
        "{\"device\": \"tpu\"} | $.device",
        "{\"model\": \"vgg\"} | $.model",
        "{\"model\": 5} | $.model",
        "{\"save\": \"int4\"} | $.save",
        "{\"layer_bits\": \"conv2=8/4\"} | $.layer_bits",
        "{\"layer_bits\": {\"conv2\": {\"wbits\": 3, \"abits\": 4}}} | $.layer_bits.conv2.wbits",
        "{\"layer_bits\": {\"conv2\": {\"wbits\": 8}}} | $.layer_bits.conv2.abits",
        "{\"layer_bits\": {\"conv2\": {\"wbits\": 8, \"abits\": 4, \"bits\": 1}}} | $.layer_bits.conv2.bits",
        "{\"layer_bits\": {\"conv2\": 8}} | $.layer_bits.conv2",
        "{\"checkpoint_every\": -1} | $.checkpoint_every",
        "{\"limit_train\": -5} | $.limit_train",
        "{\"data\": \"\"} | $.data",
        "{\"out\": \"   \"} | $.out",
        "{\"out\": null} | $.out",
        "{\"checkpoint_dir\": 7} | $.checkpoint_dir",
        "{\"resume\": \"\"} | $.resume",
        "{\"seed\": 1.5} | $.seed",
        "{\"seed\": \"7\"} | $.seed",
        "{\"clip_weights\": \"yes\"} | $.clip_weights",
        "{\"quantized_lr_scale\": \"fast\"} | $.quantized_lr_scale",
        "{\"quantized_lr_scale\": 0} | $.quantized_lr_scale",
        "{\"quantized_weight_decay\": -1} | $.quantized_weight_decay",
    })
    void invalidExamplesFailBothAtTheSamePath(String example) {
        String json = example.substring(0, example.lastIndexOf('|')).strip();
        String path = example.substring(example.lastIndexOf('|') + 1).strip();
        List<Error> errors = schema.validate(json, InputFormat.JSON);
        assertFalse(errors.isEmpty(), "the schema accepts " + json);
        Set<String> schemaPaths = new TreeSet<>();
        for (Error e : errors) {
            String pointer = e.getInstanceLocation().toString() + (e.getProperty() == null ? "" : "/" + e.getProperty());
            schemaPaths.add("$" + pointer.replace('/', '.')); // the validator reports JSON Pointers
        }
        BadInputException x = assertThrows(BadInputException.class, () -> JobSpec.parse(json, "job.json"));
        String m = x.getMessage();
        assertTrue(m.startsWith("job.json: "), m);
        assertFalse(m.contains("\n"), m);
        assertEquals(path, pathIn(m), "the parser's path in: " + m);
        assertTrue(schemaPaths.contains(path), "the schema reports " + schemaPaths + ", the parser " + m);
    }

    /** Checks the schema cannot express; the parser still names the path. */
    @ParameterizedTest
    @ValueSource(strings = {
        "{\"layer_bits\": {\"conv9\": {\"wbits\": 4, \"abits\": 4}}} | $.layer_bits.conv9 | unknown layer 'conv9' for model lenet",
        "{\"layer_bits\": {\"conv1\": {\"wbits\": 8, \"abits\": 8}}} | $.layer_bits.conv1 | first layer reads the image",
        "{\"model\": \"resnet20\", \"layer_bits\": {\"fc1\": {\"wbits\": 8, \"abits\": 8}}} | $.layer_bits.fc1 | unknown layer",
        "{\"epochs\": 2, \"warmup\": 3} | $.warmup | between 0 and",
        "{\"batch\": 64, \"batch\": 32} | $ | Duplicate field 'batch'",
        "{\"batch\": 64} {} | $ | not valid JSON",
    })
    void semanticErrorsNameThePath(String example) {
        String[] parts = example.split("\\|");
        String json = parts[0].strip();
        BadInputException x = assertThrows(BadInputException.class, () -> JobSpec.parse(json, "job.json"));
        String m = x.getMessage();
        if (!parts[1].strip().equals("$")) assertEquals(parts[1].strip(), pathIn(m), m);
        assertTrue(m.contains(parts[2].strip()), m);
        assertFalse(m.contains("\n"), m);
    }

    @Test
    void unknownKeysSuggestTheNearestOne() {
        BadInputException x = assertThrows(BadInputException.class, () -> JobSpec.parse("{\"weight-decay\": 0.1}", "j.json"));
        assertEquals("j.json: $.weight-decay: unknown key; did you mean \"weight_decay\"?", x.getMessage().replace("$['weight-decay']", "$.weight-decay"));
    }

    /** A sidecar keeps "auto" as auto; one written before these settings existed meant decay as the rest, no clip, lr x1. */
    @Test
    void sidecarsKeepTheQuantizedWeightRecipeAsWritten() {
        TrainConfig auto = TrainConfig.builder().weightBits(2).activationBits(2).build();
        assertEquals(auto, Checkpoint.configFrom(Checkpoint.configJson(auto)));
        TrainConfig given = auto.toBuilder().quantizedWeightDecay(1e-4).clipWeights(false).quantizedLrScale(8.0).build();
        assertEquals(given, Checkpoint.configFrom(Checkpoint.configJson(given)));
        ObjectNode old = Checkpoint.configJson(auto);
        old.remove(List.of("quantized_weight_decay", "clip_weights", "quantized_lr_scale"));
        TrainConfig before = Checkpoint.configFrom(old);
        assertEquals(new QuantizedWeightRecipe(auto.weightDecay(), false, 1, false), before.quantizedWeightRecipe(2));
    }

    @Test
    void theSchemaListsExactlyTheParsersKeysWithTheSameDefaults() throws IOException {
        JsonNode s = JobTestSupport.JSON.readTree(SCHEMA.toFile());
        Set<String> schemaKeys = new TreeSet<>();
        s.get("properties").fieldNames().forEachRemaining(schemaKeys::add);
        Set<String> javaKeys = new TreeSet<>(JobSpec.keys());
        javaKeys.add("$schema");
        assertEquals(javaKeys, schemaKeys);
        JsonNode defaults = JobSpec.parse("{}", "empty").toJson();
        List<String> checked = new ArrayList<>();
        for (String key : JobSpec.keys()) {
            JsonNode d = s.get("properties").get(key).get("default");
            if (d == null) {
                assertFalse(defaults.has(key), key + " has no default in the schema but one in Java");
                continue;
            }
            JsonNode j = defaults.get(key);
            if (d.isNumber()) assertEquals(d.asDouble(), j.asDouble(), key);
            else assertEquals(d, j, key);
            checked.add(key);
        }
        assertEquals(JobSpec.keys().size() - 1, checked.size(), "every key but checkpoint_dir has a default");
    }

    @Test
    void defaultsAreTheTrainCommandDefaultsAndResumeIsAuto() {
        JobSpec s = JobSpec.parse("{}", "empty");
        assertEquals(TrainConfig.defaults(), s.config());
        assertEquals(JobSpec.RESUME_AUTO, s.resume());
        assertEquals(Path.of("runs/latest/checkpoints"), s.checkpoints());
    }

    // ---- the CLI view ----

    record Cli(int code, String out, String err) {}

    static Cli cli(String... args) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        PrintStream old = System.out;
        System.setOut(new PrintStream(bo, true));
        try {
            int code = Main.run(new PrintWriter(err, true), args);
            return new Cli(code, bo.toString(), err.toString());
        } finally {
            System.setOut(old);
        }
    }

    @Test
    void flagsAndSpecAreTwoViewsOfOneJob(@TempDir Path dir) throws IOException {
        String[] flags = {"--model", "resnet20", "--width", "1.5", "--wbits", "2", "--abits", "2", "--layer-bits", "layer1.0.conv2=8/2",
            "--batch", "32", "--epochs", "3", "--lr", "0.1", "--seed", "9", "--out", dir.resolve("o").toString(),
            "--checkpoint-every", "5", "--checkpoint-dir", dir.resolve("c").toString(), "--device", "cpu", "--resume"};
        List<String> args = new ArrayList<>(List.of("train"));
        args.addAll(List.of(flags));
        args.add("--print-spec");
        Cli printed = cli(args.toArray(String[]::new));
        assertEquals(0, printed.code(), printed.err());
        assertTrue(schema.validate(printed.out(), InputFormat.JSON).isEmpty(), "the printed spec obeys the schema");
        JobSpec fromFlags = JobSpec.parse(printed.out(), "printed");
        assertEquals(2, fromFlags.config().weightBits());
        assertEquals("layer1.0.conv2=8/2", fromFlags.config().layerBits());
        assertEquals(dir.resolve("c"), fromFlags.checkpointDir());
        assertEquals(JobSpec.RESUME_AUTO, fromFlags.resume());

        Path file = dir.resolve("job.json");
        Files.writeString(file, printed.out());
        Cli again = cli("train", "--spec", file.toString(), "--print-spec");
        assertEquals(fromFlags, JobSpec.parse(again.out(), "again"), "the spec file gives the same job");

        Cli overridden = cli("train", "--spec", file.toString(), "--epochs", "7", "--resume", "never", "--print-spec");
        JobSpec o = JobSpec.parse(overridden.out(), "overridden");
        assertEquals(7, o.config().epochs(), "a flag beside --spec overrides its key");
        assertEquals(JobSpec.RESUME_NEVER, o.resume());
        assertEquals(fromFlags.config().seed(), o.config().seed(), "the rest comes from the file");

        Cli plain = cli("train", "--out", dir.resolve("p").toString(), "--print-spec");
        assertEquals(JobSpec.RESUME_NEVER, JobSpec.parse(plain.out(), "plain").resume(), "flags alone do not resume, as before");
    }

    @Test
    void aBadSpecIsOneLineWithItsPathAndExitTwo(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("job.json");
        Path status = dir.resolve("status.jsonl");
        Files.writeString(file, "{\"model\": \"lenet\", \"layer_bits\": {\"conv2\": {\"wbits\": 3, \"abits\": 4}}}");
        Cli c = cli("train", "--spec", file.toString(), "--status-file", status.toString());
        assertEquals(ExitCode.BAD_INPUT, c.code());
        assertEquals("error: " + file + ": $.layer_bits.conv2.wbits must be one of 1, 2, 4, 8, 32; got 3", c.err().strip());
        List<JsonNode> events = JobTestSupport.statusLines(status);
        assertEquals(List.of("failed"), JobTestSupport.eventNames(events));
        assertEquals(2, events.get(0).get("exit_code").asInt());
        assertEquals("bad_input", events.get(0).get("error_kind").asText());

        Files.writeString(file, "{\"model\": \"lenet\",\n \"batch\": }");
        c = cli("train", "--spec", file.toString());
        assertEquals(ExitCode.BAD_INPUT, c.code());
        assertTrue(c.err().strip().startsWith("error: " + file + ": not valid JSON at line 2"), c.err());
        assertFalse(c.err().strip().contains("\n"), c.err());

        c = cli("train", "--spec", dir.resolve("missing.json").toString());
        assertEquals(ExitCode.BAD_INPUT, c.code());
        assertTrue(c.err().contains("does not exist"), c.err());

        c = cli("train", "--out", dir.toString(), "--status", "xml");
        assertEquals(ExitCode.BAD_INPUT, c.code());
        assertTrue(c.err().contains("--status must be text or json"), c.err());
    }

    private static final Pattern PATH = Pattern.compile("\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\['[^']*'\\])*");

    /** The first JSON path in a message, with $['x-y'] written as $.x-y to match the validator's form. */
    static String pathIn(String message) {
        Matcher m = PATH.matcher(message);
        if (!m.find()) return null;
        return m.group().replaceAll("\\['([^']*)'\\]", ".$1");
    }
}
