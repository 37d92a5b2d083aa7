package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.train.ProgressBar;

/** What users see stays short: the model's precision line, the benchmark progress bar, `wrpn info`. */
class QuietOutputTest {
    private static String precision(String model) {
        try (Network n = Models.build(model, 2, PrecisionPolicy.uniform(4, 4), 32, 32, 3, 10)) {
            return Models.describePrecision(n);
        }
    }

    @Test
    void thePrecisionLogLineNamesOnlyTheExceptions() {
        assertEquals("conv1=w32/a32, conv2=w4/a4, fc1=w4/a4, fc2=w32/a32", precision("lenet"));
        assertEquals("conv1=w32/a32, fc=w32/a32, 20 other layers w4/a4", precision("resnet20"));
        assertTrue(precision("resnet56").length() < 80, precision("resnet56"));
    }

    @Test
    void aProgressBarWithoutMetricsShowsNoZeroLossOrRate() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(bo, true), "kernels", 4);
        for (int i = 1; i <= 4; i++) bar.update(i);
        String out = bo.toString();
        assertTrue(out.contains("kernels [") && out.contains("4/4 100%"), out);
        assertFalse(out.contains("loss") || out.contains("/s"), out);
    }

    @Test
    void infoSaysWhyOnce() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(bo, true));
        try {
            assertEquals(0, Main.run(new PrintWriter(new StringWriter(), true), "info"));
        } finally {
            System.setOut(old);
        }
        String out = bo.toString();
        String reason = out.lines().filter(l -> l.startsWith("reason: ")).findFirst().orElseThrow().substring("reason: ".length());
        assertEquals(1, out.split(java.util.regex.Pattern.quote(reason), -1).length - 1, out);
    }
}
