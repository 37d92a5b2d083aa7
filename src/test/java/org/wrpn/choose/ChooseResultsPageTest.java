package org.wrpn.choose;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docs/RESULTS.md quotes the committed choose report and its full-length check as they are. */
class ChooseResultsPageTest {
    private static final Path RESULTS = Path.of("benchmarks/results");

    @Test
    void theResultsPageQuotesTheChooseReportAndItsCheck() throws IOException {
        String page = Files.readString(Path.of("docs/RESULTS.md"));
        List<String> quoted = Files.readAllLines(RESULTS.resolve("choose-fashion-lenet.md")).stream().filter(l -> l.startsWith("|")).toList();
        assertTrue(quoted.size() > 10, "the rounds and the candidates: " + quoted);
        for (String line : quoted) assertTrue(page.contains(line), "docs/RESULTS.md lacks the choose report's line " + line);
        for (String line : Files.readAllLines(RESULTS.resolve("choose-fashion-lenet-check.md"))) {
            if (line.startsWith("- ")) assertTrue(page.contains(line), "docs/RESULTS.md lacks the check's line " + line);
        }
    }
}
