package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.dist.RankLostException;
import org.wrpn.train.TrainConfig;

/** The launcher's pieces that need no ranks, and the data-parallel settings' checks. */
class LocalRanksTest {
    @Test
    void theRanksCommandIsTheLaunchersLessItsNproc() {
        assertEquals(List.of("train", "--batch", "32"), LocalRanks.withoutNproc(List.of("train", "--nproc", "3", "--batch", "32")));
        assertEquals(List.of("train", "--batch", "32"), LocalRanks.withoutNproc(List.of("train", "--nproc=3", "--batch", "32")));
        assertEquals(List.of("train"), LocalRanks.withoutNproc(List.of("train")));
    }

    @Test
    void aLostRankIsExitCodeSevenWithItsOwnKindAndOneLine() {
        RankLostException e = new RankLostException("rank 2 was lost during the gradient sum (Connection reset\nby peer)");
        assertEquals(ExitCode.RANK_LOST, ExitCode.of(e));
        assertEquals("rank_lost", ExitCode.kind(ExitCode.RANK_LOST));
        assertEquals("rank lost: rank 2 was lost during the gradient sum (Connection reset by peer)", ExitCode.message(e));
    }

    @Test
    void dataParallelSettingsAreCheckedAndRoundTripThroughTheSpec() {
        assertThrows(BadInputException.class, () -> TrainConfig.builder().nproc(0).build());
        assertThrows(BadInputException.class, () -> TrainConfig.builder().rankTimeoutSeconds(0).build());
        TrainConfig c = TrainConfig.builder().nproc(3).syncBatchNorm(true).rankTimeoutSeconds(45).out(Path.of("x")).build();
        JobSpec back = JobSpec.parse(JobSpec.of(c).toJsonString(), "test");
        assertEquals(3, back.config().nproc());
        assertEquals(true, back.config().syncBatchNorm());
        assertEquals(45, back.config().rankTimeoutSeconds());
        BadInputException bad = assertThrows(BadInputException.class, () -> JobSpec.parse("{\"nproc\": 0}", "job.json"));
        assertEquals("job.json: $.nproc must be between 1 and 1024, got 0", bad.getMessage());
    }

    @Test
    void aLibraryJobOfSeveralRanksIsRefusedWithOneLine(@org.junit.jupiter.api.io.TempDir Path dir) throws InterruptedException {
        JobSpec spec = JobSpec.of(JobTestSupport.small(dir.resolve("run"), 1, 16, 1, 64, 0, 1).toBuilder().nproc(2).build());
        JobResult r = Jobs.start(spec, null).awaitCompletion();
        assertEquals(ExitCode.BAD_INPUT, r.exitCode());
        assertEquals("nproc 2 needs a process per rank: run the job with `wrpn train`, which starts them, or start the ranks"
                + " with RANK/WORLD_SIZE (torchrun) or srun", r.message());
    }

    @Test
    void resumingWithAnotherGlobalBatchIsRefusedWithOneLine(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        JobSpec spec = JobSpec.of(JobTestSupport.small(dir.resolve("run"), 1, 16, 2, 64, 2, 1));
        assertEquals(ExitCode.OK, Jobs.start(spec.withResume(JobSpec.RESUME_NEVER), null).awaitCompletion().exitCode());
        // as if two ranks of --batch 16 had written the newest checkpoint (global batch 32)
        Path newest = org.wrpn.train.Checkpoint.newestIn(spec.checkpoints());
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) JobTestSupport.JSON.readTree(newest.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("progress")).put("ranks", 2);
        java.nio.file.Files.writeString(newest, json.toString());
        JobResult r = Jobs.start(spec.withResume(newest.toString()), null).awaitCompletion();
        assertEquals(ExitCode.BAD_INPUT, r.exitCode(), r.message());
        assertEquals("checkpoint " + newest + " was trained with a global batch of 32 (2 rank(s) x 16); this run's is 16 (1 x 16):"
                + " resume with ranks x --batch = 32", r.message());
    }
}
