package org.wrpn.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.job.JobSpec;

/** The README's Java example is this package's SchedulerExample, and it runs. */
class SchedulerExampleTest {
    static final Path SOURCE = Path.of("src/test/java/org/wrpn/examples/SchedulerExample.java");

    @Test
    void theReadmeShowsTheExampleVerbatim() throws IOException {
        String example = example(SOURCE);
        String readme = Files.readString(Path.of("README.md"));
        assertTrue(readme.contains(example), "README.md's \"For schedulers\" section must show, verbatim:\n" + example);
    }

    /** The lines of a source between its README:begin and README:end markers, less the method body's indent. */
    static String example(Path source) throws IOException {
        List<String> lines = Files.readAllLines(source);
        int begin = lines.indexOf("        // README:begin"), end = lines.indexOf("        // README:end");
        assertTrue(begin >= 0 && end > begin, "markers in " + source);
        return lines.subList(begin + 1, end).stream().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                .collect(Collectors.joining("\n"));
    }

    @Test
    void theReadmeSpecExampleIsAValidSpec() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        String section = readme.substring(readme.indexOf("## For schedulers"));
        String json = section.lines().dropWhile(l -> !l.startsWith("    {")).takeWhile(l -> l.startsWith("    "))
                .collect(Collectors.joining("\n"));
        JobSpec spec = JobSpec.parse(json, "README.md");
        assertEquals("resnet20", spec.config().model());
        assertEquals("layer3.2.conv2=4/4", spec.config().layerBits());
    }

    @Test
    void theExampleRunsATinyJob(@TempDir Path dir) throws Exception {
        Path spec = dir.resolve("job.json");
        Files.writeString(spec, """
                {"model": "lenet", "width": 0.5, "batch": 32, "epochs": 1, "limit_train": 128, "limit_test": 64,
                 "device": "cpu", "out": "%s"}
                """.formatted(dir.resolve("out")));
        assertEquals(0, SchedulerExample.run(spec));
    }
}
