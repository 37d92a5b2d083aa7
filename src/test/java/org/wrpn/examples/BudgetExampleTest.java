package org.wrpn.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README's budget example is this package's BudgetExample, and what it prints is true. */
class BudgetExampleTest {
    private static final Path SOURCE = Path.of("src/test/java/org/wrpn/examples/BudgetExample.java");

    @Test
    void theReadmeShowsTheExampleVerbatim() throws IOException {
        String example = SchedulerExampleTest.example(SOURCE);
        assertTrue(Files.readString(Path.of("README.md")).contains(example), "README.md must show, verbatim:\n" + example);
    }

    @Test
    void fullPrecisionAtWidthOneIsTooBigWhereTwoBitsAtWidthTwoFit() {
        List<String> out = BudgetExample.run();
        assertEquals(6, out.size(), String.join("\n", out));
        assertTrue(out.get(0).startsWith("width 1.0, w32/a32:") && out.get(0).contains("(too big)"), out.get(0));
        assertTrue(out.get(5).startsWith("width 2.0, w2/a2:") && out.get(5).contains("(fits)"), out.get(5));
    }
}
