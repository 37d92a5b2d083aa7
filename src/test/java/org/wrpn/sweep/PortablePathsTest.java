package org.wrpn.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Result files record paths relative to the repository, not the absolute paths of the machine they ran on. */
class PortablePathsTest {
    private static final Path CWD = Path.of("").toAbsolutePath();

    @Test
    void pathsBecomeRelativeToTheWorkingDirectory() {
        assertEquals("runs/sweep", SweepReport.portable(CWD.resolve("runs/sweep"), true));
        assertEquals("runs/sweep", SweepReport.portable(Path.of("runs/sweep"), true));
        assertEquals("../elsewhere", SweepReport.portable(CWD.getParent().resolve("elsewhere"), true));
        assertEquals(".", SweepReport.portable(CWD, true));
        // a system data directory outside the repository stays where every machine has it
        assertEquals("/usr/share/datasets/fashion-mnist", SweepReport.portable(Path.of("/usr/share/datasets/fashion-mnist"), false));
    }

    @Test
    void committedResultFilesHoldNoMachinePaths() throws IOException {
        Pattern absolute = Pattern.compile("\"(/(?!usr/share/datasets/)[^\"]*)\"");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("benchmarks/results"))) {
            for (Path f : files.filter(p -> p.toString().matches(".*\\.(json|csv|md)")).sorted().toList()) {
                Matcher m = absolute.matcher(Files.readString(f));
                while (m.find()) found.add(f.getFileName() + ": " + m.group(1));
            }
        }
        assertTrue(found.isEmpty(), "absolute paths in committed results: " + found);
    }
}
