package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `wrpn choose` refuses bad budgets, grids and time budgets in one line, and says which candidates fit. */
class ChooseCommandTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--budget 16Q|--budget must be a positive size",
        "--budget -1|--budget must be a positive size",
        "--budget 0|--budget must be a positive size",
        "--budget 16G --time-budget 0|--time-budget must be a duration",
        "--budget 16G --time-budget -5m|--time-budget must be a duration",
        "--budget 16G --time-budget soon|--time-budget must be a duration",
        "--budget 16G --widths 0|widths must be positive",
        "--budget 16G --widths 1,abc|abc' is not a number",
        "--budget 16G --bits 3/3|weight bits must be one of",
        "--budget 16G --bits 4|bits must be WEIGHT/ACTIVATION",
        "--budget 16G --widths ,|--widths must not be empty",
        "--budget 16G --plan-device tpu|must be cpu or cuda",
        "--budget 16G --model vgg|unknown model 'vgg'",
        "--budget 16G --width 2|unknown option",
        "--budget 16G --data /nonexistent/wrpn-data|does not exist",
        "--time-budget 30m|missing required option: '--budget",
    })
    void badInputIsOneLineAndExitTwo(String flags, String fragment) {
        CliBadInputTest.assertBadInput(CliBadInputTest.run(("choose --plan-only --out /tmp/wrpn-choose-test " + flags).split(" ")),
                fragment);
    }

    @Test
    void planOnlyListsEveryCandidateWithItsLargestBatch(@TempDir Path out) {
        PrintStream saved = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("choose", "--plan-only", "--budget", "15.5M", "--out", out.toString());
        } finally {
            System.setOut(saved);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        assertTrue(text.contains("budget 15.50 MiB at batch 64 (cpu rules): 5 of 30 candidates fit"), text);
        assertTrue(text.lines().anyMatch(l -> l.matches("\\s*1\\s+32/32\\s+fp32\\s+15\\.68 MiB\\s+\\d+\\s+does not fit")), text);
        assertTrue(text.lines().anyMatch(l -> l.matches("\\s*2\\.5\\s+4/4\\s+packed.*does not fit")), "fractional widths: " + text);
        assertFalse(Files.exists(out.resolve("choose-state.json")), "--plan-only trains and writes nothing");
    }

    @Test
    void chooseTakesTheSettingsItsCandidatesShare() {
        var spec = new picocli.CommandLine(new ChooseCommand()).getCommandSpec();
        for (String own : new String[] {"--width", "--wbits", "--abits", "--resume", "--overwrite", "--checkpoint-dir"}) {
            assertEquals(null, spec.findOption(own), own + " is the grid's or each proxy run's");
        }
        for (String shared : new String[] {"--model", "--data", "--batch", "--lr", "--seed", "--limit-train", "--save", "--device"}) {
            assertTrue(spec.findOption(shared) != null, shared);
        }
        assertEquals("3", spec.findOption("--epochs").defaultValue());
        assertEquals("runs/choose", spec.findOption("--out").defaultValue());
    }

    @Test
    void nothingFittingIsOutOfMemory() {
        CliBadInputTest.Outcome o = CliBadInputTest.run("choose", "--plan-only", "--budget", "1M", "--widths", "1", "--bits", "4/4");
        assertEquals(3, o.code(), o.err());
        assertTrue(o.err().strip().matches("error: out of memory: no candidate fits 1\\.00 MiB at batch 64: the smallest, 1x 4/4, needs"
                + " [0-9.]+ MiB \\(its largest batch within the budget is 0\\); .*"), o.err());
    }
}
