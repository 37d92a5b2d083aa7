package org.wrpn.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.job.JobSpec;
import org.wrpn.train.TrainConfig;

class SweepSpecTest {
    private static SweepSpec parse(String json, ObjectNode flags) {
        return SweepSpec.fromJson(json == null ? null : JobSpec.tree(json, "s.json"), "s.json", flags);
    }

    private static String refused(String json, ObjectNode flags) {
        return assertThrows(BadInputException.class, () -> parse(json, flags)).getMessage();
    }

    @Test
    void defaultsAreTheWrpnReproductionGrid() {
        SweepSpec s = parse(null, null);
        List<SweepSpec.Cell> cells = s.cells();
        assertEquals(3 * 6 * 2, cells.size());
        assertEquals(3, s.base().epochs());
        assertEquals("lenet", s.base().model());
        assertEquals(Path.of("runs/sweep"), s.results());
        SweepSpec.Cell c = cells.get(2 * 12 + 3 * 2 + 1); // width 3 (third), bits 4/2 (fourth), seed 2 (second)
        assertEquals("lenet-w3-w4a2-s2", c.name());
        TrainConfig cfg = c.job().config();
        assertEquals(3.0, cfg.widthMultiplier());
        assertEquals(4, cfg.weightBits());
        assertEquals(2, cfg.activationBits());
        assertEquals(2L, cfg.seed());
        assertEquals(Path.of("runs/sweep/lenet-w3-w4a2-s2"), cfg.out());
        assertEquals(JobSpec.RESUME_AUTO, c.job().resume());
    }

    @Test
    void fileKeysAndFlagsCombineWithFlagsWinning() {
        ObjectNode flags = JsonNodeFactory.instance.objectNode();
        flags.put("seeds", "7");
        flags.put("lr", 0.1);
        SweepSpec s = parse("""
                {"widths": [1, 1.5], "bits": ["4/2", [2, 2]], "seeds": [1, 2, 3], "epochs": 2, "lr": 0.02,
                 "out": "/tmp/x", "jobs": 2, "name": "fm"}""", flags);
        assertEquals(List.of(1.0, 1.5), s.widths());
        assertEquals(List.of(new SweepSpec.Bits(4, 2), new SweepSpec.Bits(2, 2)), s.bits());
        assertEquals(List.of(7L), s.seeds());
        assertEquals(0.1, s.base().lr());
        assertEquals(2, s.base().epochs());
        assertEquals(2, s.jobs());
        assertEquals(Path.of("/tmp/x"), s.results());
        assertEquals("lenet-w1.5-w2a2-s7", s.cells().get(3).name());
    }

    @Test
    void badGridsAreRefusedWithTheirPlace() {
        assertTrue(refused("{\"seed\": 3}", null).contains("$.seed is set per cell by the grid; use seeds"));
        assertTrue(refused("{\"wbits\": 3}", null).contains("use bits"));
        assertTrue(refused("{\"bits\": [\"3/3\"]}", null).contains("$.bits: weight bits must be one of"));
        assertTrue(refused("{\"bits\": [\"4-2\"]}", null).contains("WEIGHT/ACTIVATION"));
        assertTrue(refused("{\"widths\": []}", null).contains("$.widths must not be empty"));
        assertTrue(refused("{\"widths\": [0]}", null).contains("widths must be positive"));
        assertTrue(refused("{\"seeds\": [1.5]}", null).contains("seeds must be integers"));
        assertTrue(refused("{\"jobs\": 0}", null).contains("jobs must be between 1 and 64"));
        assertTrue(refused("{\"name\": \"a/b\"}", null).contains("name must be letters"));
        assertTrue(refused("{\"epoch\": 3}", null).contains("unknown key"));
        ObjectNode flags = JsonNodeFactory.instance.objectNode();
        flags.put("bits", "4/x");
        assertTrue(refused(null, flags).startsWith("--bits"));
    }

    @Test
    void duplicateGridValuesCollapse() {
        SweepSpec s = parse("{\"widths\": [2, 2], \"bits\": [\"4/4\", \"4/4\"], \"seeds\": [1, 1]}", null);
        assertEquals(1, s.cells().size());
    }
}
