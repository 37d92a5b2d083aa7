package org.wrpn.choose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.wrpn.BadInputException;

/** The arithmetic of successive halving, without training anything. */
class HalvingTest {

    @ParameterizedTest
    @CsvSource({"1,0", "2,1", "3,2", "4,2", "5,3", "8,3", "9,4", "30,5"})
    void roundsHalveDownToTwoCandidates(int candidates, int rounds) {
        assertEquals(rounds, Halving.rounds(candidates));
        int n = candidates;
        for (int r = 0; r < rounds; r++) n = Halving.survivors(n);
        assertEquals(Math.min(candidates, 1), n, "one candidate is left after the last round");
    }

    @Test
    void aProxyIsWholeBatchesWithinTheTrainingLength() {
        // 60,000 training images, batch 64, 3 epochs at full length
        assertEquals(new Halving.Proxy(1, 12_800, 12_800), Halving.proxy(12_800, 60_000, 0, 64, 3));
        assertEquals(new Halving.Proxy(1, 12_864, 12_864), Halving.proxy(12_801, 60_000, 0, 64, 3), "rounded up to a whole batch");
        assertEquals(new Halving.Proxy(1, 64, 64), Halving.proxy(5, 60_000, 0, 64, 3), "at least one batch");
        assertEquals(new Halving.Proxy(1, 0, 60_000), Halving.proxy(60_000, 60_000, 0, 64, 3), "a whole epoch keeps the user's limit");
        assertEquals(new Halving.Proxy(2, 45_056, 90_112), Halving.proxy(90_000, 60_000, 0, 64, 3), "two epochs of part of the set");
        assertEquals(new Halving.Proxy(3, 0, 180_000), Halving.proxy(10_000_000, 60_000, 0, 64, 3), "never longer than the full training");
        assertEquals(new Halving.Proxy(1, 5_000, 5_000), Halving.proxy(9_999, 5_000, 5_000, 64, 1), "the user's --limit-train caps it");
    }

    @Test
    void theNextRoundTakesItsShareOfTheTimeLeft() {
        // two candidates at 1 ms and 3 ms per image, 2 s fixed cost per run, 100 s for the round, one run at a time
        long images = Halving.nextImages(100, 1, new double[] {1e-3, 3e-3}, 2, 64, 64);
        assertEquals(24_000, images, "(100 - 2 x 2) / 0.004 = 24,000 images, whole batches");
        assertEquals(48_960, Halving.nextImages(100, 2, new double[] {1e-3, 3e-3}, 2, 64, 64), "two runs at once: (200 - 4) / 0.004");
        assertEquals(30_000, Halving.nextImages(1, 1, new double[] {1e-3}, 2, 30_000, 64), "never fewer images than the round before");
    }

    @Test
    void theFixedCostIsTheWallTimeNotSpentTraining() {
        assertEquals(3.0, Halving.overhead(26, 1, new double[] {10, 10}), 1e-12);
        assertEquals(1.0, Halving.overhead(11, 2, new double[] {10, 10}), 1e-12, "two runs at once");
        assertEquals(0.0, Halving.overhead(5, 1, new double[] {10}), "never negative");
        assertEquals(0.0, Halving.overhead(5, 1, new double[0]), "nothing trained, nothing measured");
    }

    @Test
    void rankingIsAccuracyThenLessMemoryThenGridOrderWithFailuresLast() {
        List<Halving.Scored<String>> ranked = Halving.rank(List.of(
                new Halving.Scored<>("failed", Double.NaN, 1, 0),
                new Halving.Scored<>("b", 0.90, 200, 1),
                new Halving.Scored<>("a", 0.90, 100, 2),
                new Halving.Scored<>("best", 0.91, 300, 3),
                new Halving.Scored<>("c", 0.90, 100, 4)));
        assertEquals(List.of("best", "a", "c", "b", "failed"), ranked.stream().map(Halving.Scored::candidate).toList());
    }

    @Test
    void theFrontKeepsWhatNothingElseBeatsOnBothCounts() {
        double[] cost = {1, 2, 2, 3, 4, Double.NaN};
        double[] acc = {0.80, 0.85, 0.84, 0.85, 0.90, 0.99};
        assertArrayEquals(new boolean[] {true, true, false, false, true, false}, Halving.front(cost, acc));
        assertArrayEquals(new boolean[] {true, true}, Halving.front(new double[] {1, 1}, new double[] {0.5, 0.5}), "ties stay");
    }

    @ParameterizedTest
    @CsvSource({"30m,1800", "2h,7200", "1h30m,5400", "90s,90", "1800,1800", "0.5h,1800", "1h1m1s,3661"})
    void timeBudgetsParse(String text, long seconds) {
        assertEquals(Duration.ofSeconds(seconds), ChooseSpec.parseDuration(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-5m", "abc", "2x", "", "m", "0s", "31d", "999999999h", "1h-1m"})
    void badTimeBudgetsAreRefusedInOneLine(String text) {
        BadInputException e = assertThrows(BadInputException.class, () -> ChooseSpec.parseDuration(text));
        assertTrue(e.getMessage().startsWith("--time-budget must be a duration"), e.getMessage());
    }

    @Test
    void durationsPrintShort() {
        assertEquals("30m", ChooseSpec.formatDuration(Duration.ofMinutes(30)));
        assertEquals("1h30m", ChooseSpec.formatDuration(Duration.ofMinutes(90)));
        assertEquals("1h5s", ChooseSpec.formatDuration(Duration.ofSeconds(3605)));
        assertEquals("45s", ChooseSpec.formatDuration(Duration.ofSeconds(45)));
    }
}
