package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class RankStderrTest {
    private static String forward(Set<String> printed, String... chunks) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RankStderr r = new RankStderr(out, printed);
        for (String c : chunks) {
            byte[] b = c.getBytes(StandardCharsets.UTF_8);
            r.accept(b, b.length);
        }
        r.finish();
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void anErrorEveryRankMeetsIsPrintedOnceAndOthersAllGoOut() {
        Set<String> printed = ConcurrentHashMap.newKeySet();
        String notice = RankStderr.INCUBATOR_NOTICE + "\n";
        assertEquals("error: --device cuda: no GPU here\n", forward(printed, notice, "error: --device cuda: no ", "GPU here\n"));
        assertEquals("", forward(printed, notice + "error: --device cuda: no GPU here\n"), "the second rank's copy is dropped");
        assertEquals("error: rank lost: rank 2 was lost\n", forward(printed, "error: rank lost: rank 2 was lost\n"));
        assertEquals("error: rank lost: rank 1 was lost\n", forward(printed, "error: rank lost: rank 1 was lost\n"));
        assertEquals("error: no newline at the end", forward(printed, "error: no newline at the end"));
        assertEquals("", forward(printed, "error: no newline at the end"));
    }

    @Test
    void progressGoesOutBeforeItsLineEndsAndTheNoticeOnlyFirst() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RankStderr r = new RankStderr(out, ConcurrentHashMap.newKeySet());
        byte[] bar = "\rtrain 10% 3.1 it/s".getBytes(StandardCharsets.UTF_8);
        r.accept(bar, bar.length);
        assertEquals("\rtrain 10% 3.1 it/s", out.toString(StandardCharsets.UTF_8), "a redrawn bar is not held for a newline");
        byte[] later = ("\n" + RankStderr.INCUBATOR_NOTICE + "\n").getBytes(StandardCharsets.UTF_8);
        r.accept(later, later.length);
        r.finish();
        assertEquals("\rtrain 10% 3.1 it/s\n" + RankStderr.INCUBATOR_NOTICE + "\n", out.toString(StandardCharsets.UTF_8),
                "the notice is dropped only as the first line");
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        new RankStderr(whole, ConcurrentHashMap.newKeySet())
                .forward(new ByteArrayInputStream((RankStderr.INCUBATOR_NOTICE + "\nwarn: x\n").getBytes(StandardCharsets.UTF_8)));
        assertEquals("warn: x\n", whole.toString(StandardCharsets.UTF_8));
    }
}
