package org.wrpn.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.BadInputException;
import org.wrpn.dist.LaunchEnvironment.Source;

class LaunchEnvironmentTest {

    @Test
    void noLauncherIsOneProcess() {
        LaunchEnvironment e = LaunchEnvironment.from(Map.of("PATH", "/bin", "SLURM_JOB_ID", "7"));
        assertEquals(LaunchEnvironment.single(), e);
        assertFalse(e.isDistributed());
        assertNull(e.masterAddr());
        assertEquals("rank 0 of 1 (one process)", e.describe());
    }

    @Test
    void torchrunVariables() {
        LaunchEnvironment e = LaunchEnvironment.from(Map.of("RANK", "5", "WORLD_SIZE", "8", "LOCAL_RANK", "1",
                "MASTER_ADDR", "node07", "MASTER_PORT", "1234"));
        assertEquals(new LaunchEnvironment(5, 8, 1, "node07", 1234, Source.TORCHRUN), e);
        assertTrue(e.isDistributed());
        assertEquals("rank 5 of 8, local rank 1, rendezvous node07:1234 (from RANK/WORLD_SIZE)", e.describe());
    }

    @Test
    void srunVariablesTakeTheFirstNodeAndTorchrunsDefaultPort() {
        LaunchEnvironment e = LaunchEnvironment.from(Map.of("SLURM_PROCID", "3", "SLURM_NTASKS", "4", "SLURM_LOCALID", "1",
                "SLURM_JOB_NODELIST", "gpu[07-08]"));
        assertEquals(new LaunchEnvironment(3, 4, 1, "gpu07", LaunchEnvironment.DEFAULT_MASTER_PORT, Source.SLURM), e);
    }

    @Test
    void masterAddrOverridesTheNodeListAndTorchrunWinsInsideSrun() {
        Map<String, String> srun = Map.of("SLURM_PROCID", "1", "SLURM_NTASKS", "2", "SLURM_LOCALID", "1",
                "SLURM_JOB_NODELIST", "a[1-2]", "MASTER_ADDR", "10.0.0.9");
        assertEquals("10.0.0.9", LaunchEnvironment.from(srun).masterAddr());
        Map<String, String> both = Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "1", "RANK", "2", "WORLD_SIZE", "4",
                "LOCAL_RANK", "2", "MASTER_ADDR", "h");
        assertEquals(new LaunchEnvironment(2, 4, 2, "h", 29500, Source.TORCHRUN), LaunchEnvironment.from(both));
    }

    @Test
    void aWorldOfOneNeedsNoRendezvous() {
        LaunchEnvironment e = LaunchEnvironment.from(Map.of("RANK", "0", "WORLD_SIZE", "1"));
        assertEquals(new LaunchEnvironment(0, 1, 0, null, 29500, Source.TORCHRUN), e);
        assertFalse(e.isDistributed());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "RANK=4;WORLD_SIZE=4;LOCAL_RANK=0;MASTER_ADDR=h | RANK must be between 0 and 3, got 4",
        "RANK=x;WORLD_SIZE=4;LOCAL_RANK=0;MASTER_ADDR=h | RANK must be an integer, got 'x'",
        "RANK=0;WORLD_SIZE=0 | WORLD_SIZE must be between 1 and",
        "RANK=1;LOCAL_RANK=0;MASTER_ADDR=h | WORLD_SIZE is not set",
        "RANK=1;WORLD_SIZE=2;MASTER_ADDR=h | LOCAL_RANK is not set",
        "RANK=1;WORLD_SIZE=2;LOCAL_RANK=1 | WORLD_SIZE=2 needs MASTER_ADDR (the host of rank 0)",
        "RANK=1;WORLD_SIZE=2;LOCAL_RANK=1;MASTER_ADDR=h;MASTER_PORT=70000 | MASTER_PORT must be between 1 and 65535, got 70000",
        "SLURM_PROCID=1;SLURM_NTASKS=2;SLURM_LOCALID=0 | SLURM_NTASKS=2 needs MASTER_ADDR or SLURM_JOB_NODELIST",
        "SLURM_PROCID=1;SLURM_NTASKS=2;SLURM_LOCALID=0;SLURM_JOB_NODELIST=gpu[01-02 | SLURM_JOB_NODELIST is not a Slurm host list",
    })
    void badVariablesAreOneLineNamingThem(String vars, String message) {
        Map<String, String> env = new java.util.HashMap<>();
        for (String kv : vars.split(";")) env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        BadInputException x = assertThrows(BadInputException.class, () -> LaunchEnvironment.from(env));
        assertTrue(x.getMessage().startsWith(message), x.getMessage());
        assertFalse(x.getMessage().contains("\n"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "node01 | node01",
        "node01,node02 | node01",
        "gpu[07-08] | gpu07",
        "gpu[007,9-12],login1 | gpu007",
        "n[001-003]-ib,x | n001-ib",
        "' a[3] ' | a3",
    })
    void firstHostOfASlurmList(String list, String host) {
        assertEquals(host, SlurmNodeList.firstHost(list, "SLURM_JOB_NODELIST"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"'[01-02]'", "'gpu[a-b]'", "'gpu]1['", "'gpu[[1]]'", "','", "'gpu[1]x[2]'"})
    void malformedSlurmListsAreRefused(String list) {
        BadInputException x = assertThrows(BadInputException.class, () -> SlurmNodeList.firstHost(list, "SLURM_JOB_NODELIST"));
        assertTrue(x.getMessage().startsWith("SLURM_JOB_NODELIST "), x.getMessage());
    }
}
