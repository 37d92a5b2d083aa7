package org.wrpn.arch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.wrpn.data.OpenCvImportFixture;
import org.wrpn.train.ForbiddenImportFixture;

/** The package rules of {@link ArchitectureRules} hold for the production classes, and do catch a breach. */
class ArchitectureTest {
    private static JavaClasses production;

    @BeforeAll
    static void importProductionClasses() {
        production = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.wrpn");
    }

    @Test
    void productionClassesWereFound() {
        // a rule over an empty set passes vacuously: make sure the layers and both backends are really here
        for (String cls : new String[] {"org.wrpn.nn.Network", "org.wrpn.train.Trainer", "org.wrpn.backend.cpu.CpuBackend",
            "org.wrpn.backend.cuda.CudaBackend", "org.wrpn.cli.Main", "org.wrpn.data.decode.OpenCvDecoder"}) {
            assertTrue(production.contain(cls), cls);
        }
    }

    @Test
    void everyPackageRuleHolds() {
        for (ArchRule rule : ArchitectureRules.ALL) rule.check(production);
    }

    /** The test of the test: a class in train/ that names the CPU backend and OpenBLAS breaks two rules. */
    @Test
    void aForbiddenImportFailsTheRules() {
        JavaClasses bad = new ClassFileImporter().importClasses(ForbiddenImportFixture.class);
        AssertionError e = assertThrows(AssertionError.class,
                () -> ArchitectureRules.NOTHING_ABOVE_BACKENDS_NAMES_AN_IMPLEMENTATION.check(bad));
        assertTrue(e.getMessage().contains("ForbiddenImportFixture"), e.getMessage());
        assertTrue(e.getMessage().contains("org.wrpn.backend.cpu.CpuBackend"), e.getMessage());
        assertThrows(AssertionError.class, () -> ArchitectureRules.ONLY_THE_CPU_BACKEND_KNOWS_NATIVE_LIBRARIES.check(bad));
        assertFalse(ArchitectureRules.ONLY_THE_CUDA_BACKEND_KNOWS_JCUDA.evaluate(bad).hasViolation());
    }

    /** OpenCV named in data/ outside data/decode breaks the rules too. */
    @Test
    void openCvOutsideTheDecoderFailsTheRules() {
        JavaClasses bad = new ClassFileImporter().importClasses(OpenCvImportFixture.class);
        AssertionError e = assertThrows(AssertionError.class, () -> ArchitectureRules.ONLY_THE_CPU_BACKEND_KNOWS_NATIVE_LIBRARIES.check(bad));
        assertTrue(e.getMessage().contains("org.bytedeco.opencv"), e.getMessage());
        assertThrows(AssertionError.class, () -> ArchitectureRules.NOTHING_ABOVE_BACKENDS_NAMES_AN_IMPLEMENTATION.check(bad));
    }
}
