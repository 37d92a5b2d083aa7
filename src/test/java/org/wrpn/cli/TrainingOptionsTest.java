package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.wrpn.job.JobSpec;
import org.wrpn.sweep.SweepSpec;
import org.wrpn.train.TrainConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The training flags are declared once, in TrainingOptions: they must be the job spec's keys, with its defaults. */
class TrainingOptionsTest {
    @Command(name = "settings")
    static final class Holder {
        @Mixin
        TrainingOptions settings;
    }

    /** The mixin's job-spec keys with nothing given: every setting at its default. */
    static ObjectNode mixinDefaults() {
        Holder h = new Holder();
        new CommandLine(h).parseArgs();
        return h.settings.specKeys(true);
    }

    static Set<String> settingFlags(CommandSpec spec) {
        return spec.options().stream().map(OptionSpec::longestName).filter(f -> JobSpec.keyOfFlag(f) != null)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    static Set<String> flagsOf(Set<String> keys) {
        return keys.stream().map(JobSpec::flagOfKey).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void everyJobSpecKeyIsExactlyOneMixinFlagAndBack() {
        List<OptionSpec> options = new CommandLine(new Holder()).getCommandSpec().options();
        for (OptionSpec o : options) {
            assertEquals(1, o.names().length, "one name for " + o.longestName());
            String key = JobSpec.keyOfFlag(o.longestName());
            assertEquals(o.longestName(), key == null ? null : JobSpec.flagOfKey(key), o.longestName() + " is no job-spec key");
        }
        for (String key : JobSpec.keys()) {
            String flag = JobSpec.flagOfKey(key);
            assertEquals(1, options.stream().filter(o -> o.longestName().equals(flag)).count(), key + " as " + flag);
        }
        assertEquals(JobSpec.keys().size(), options.size());
    }

    @Test
    void theMixinDefaultsAreTrainConfigsAndTheSchemas() throws IOException {
        ObjectNode mixin = mixinDefaults();
        JsonNode spec = JobSpec.of(TrainConfig.defaults()).toJson();
        JsonNode schema = new ObjectMapper().readTree(Path.of("docs/job-spec.schema.json").toFile()).get("properties");
        JobSpec fromFlags = JobSpec.fromJson(null, "flags", mixin);
        assertEquals(TrainConfig.defaults(), fromFlags.config(), "the flags' defaults make the default config");
        assertNull(fromFlags.checkpointDir());
        // The one planned difference: flags alone start over, a spec resumes.
        assertEquals(JobSpec.RESUME_NEVER, mixin.get("resume").asText());
        assertEquals(JobSpec.RESUME_AUTO, spec.get("resume").asText());
        JsonNode flagsJson = fromFlags.toJson();
        for (String key : JobSpec.keys()) {
            JsonNode d = schema.get(key).get("default");
            if (key.equals("checkpoint_dir")) {
                assertNull(d);
                assertFalse(mixin.has(key) || spec.has(key), "checkpoint_dir has no default");
                continue;
            }
            if (!key.equals("resume")) {
                assertEquals(spec.get(key), flagsJson.get(key), key);
                if (!key.equals("layer_bits")) assertEquals(spec.get(key), mixin.get(key), key + ", as the flag sets it");
            }
            if (d == null) continue;
            if (d.isNumber()) assertEquals(d.asDouble(), spec.get(key).asDouble(), key + " in the schema");
            else assertEquals(d, spec.get(key), key + " in the schema");
        }
        assertEquals("", mixin.get("layer_bits").asText());
    }

    @Test
    void sweepAndPlanTakeTheirShareOfTheSettings() {
        CommandSpec sweep = new CommandLine(new SweepCommand()).getCommandSpec();
        Set<String> cellKeys = new TreeSet<>(JobSpec.keys());
        cellKeys.removeAll(SweepSpec.PER_CELL_KEYS);
        assertEquals(flagsOf(cellKeys), settingFlags(sweep), "sweep: every setting but the grid's");
        assertEquals(String.valueOf(SweepSpec.DEFAULT_EPOCHS), sweep.findOption("--epochs").defaultValue());
        assertEquals(SweepSpec.DEFAULT_OUT.toString(), sweep.findOption("--out").defaultValue());

        CommandSpec plan = new CommandLine(new PlanCommand()).getCommandSpec();
        assertEquals(flagsOf(Set.of("model", "width", "wbits", "abits", "layer_bits", "batch", "save", "device")), settingFlags(plan));
        assertEquals("cpu", plan.findOption("--device").defaultValue(), "plan's --device picks workspace rules, cpu by default");

        CommandSpec train = new CommandLine(new TrainCommand()).getCommandSpec();
        assertEquals(flagsOf(new TreeSet<>(JobSpec.keys())), settingFlags(train));
    }

    @Test
    void onlyTheFlagsGivenCountUnlessAllAreAskedFor() {
        CommandLine cl = new CommandLine(new SweepCommand());
        cl.parseArgs("--epochs", "5", "--widths", "1,2", "--device", "cpu", "--weight-decay", "0");
        ObjectNode given = ((SweepCommand) cl.getCommand()).settings.specKeys(false);
        assertEquals("{\"epochs\":5,\"weight_decay\":0.0,\"device\":\"cpu\"}", given.toString());

        CommandLine train = new CommandLine(new TrainCommand());
        train.parseArgs("--seed", "9", "--resume");
        TrainingOptions s = ((TrainCommand) train.getCommand()).settings;
        assertEquals("{\"seed\":9,\"resume\":\"auto\"}", s.specKeys(false).toString());
        ObjectNode all = s.specKeys(true);
        assertEquals(JobSpec.keys().size() - 1, all.size(), "every key but the unset checkpoint_dir");
        assertEquals(9, all.get("seed").asLong());
    }
}
