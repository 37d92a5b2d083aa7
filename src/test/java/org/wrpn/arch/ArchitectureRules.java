package org.wrpn.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.lang.ArchRule;

/**
 * Who may import whom (docs/DESIGN.md, "Packages"). Only backend/cpu knows the JavaCPP native
 * libraries (OpenBLAS, oneDNN, JavaCPP itself), only backend/cuda knows JCuda, only data/decode knows
 * OpenCV (through JavaCPP), only dist/gloo knows PyTorch's c10d (through JavaCPP); above backend/,
 * code talks to the Backend interface and never names an implementation. bench/ times backend internals (GPU events) and may name them, but not the native
 * libraries or JCuda themselves.
 */
final class ArchitectureRules {
    private ArchitectureRules() {}

    static final String[] ABOVE_BACKENDS = {"org.wrpn.nn..", "org.wrpn.train..", "org.wrpn.plan..", "org.wrpn.job..",
        "org.wrpn.sweep..", "org.wrpn.choose..", "org.wrpn.export..", "org.wrpn.cli..", "org.wrpn.data..", "org.wrpn.quant..", "org.wrpn.tensor..",
        "org.wrpn.dist.."};

    /** The image decoder's package: JavaCPP's OpenCV, nothing else of org.bytedeco. */
    static final String DECODER = "org.wrpn.data.decode..";

    /** The Gloo collective engine's package: PyTorch's c10d through JavaCPP, nothing else of org.bytedeco. */
    static final String GLOO = "org.wrpn.dist.gloo..";

    static final ArchRule NOTHING_ABOVE_BACKENDS_NAMES_AN_IMPLEMENTATION = noClasses()
            .that().resideInAnyPackage(ABOVE_BACKENDS).and().resideOutsideOfPackage(DECODER).and().resideOutsideOfPackage(GLOO)
            .should().dependOnClassesThat().resideInAnyPackage("org.wrpn.backend.cpu..", "org.wrpn.backend.cuda..",
                    "org.bytedeco..", "jcuda..")
            .because("only backend/cpu knows OpenBLAS and oneDNN, only backend/cuda knows JCuda, and layers, trainer, planner, jobs,"
                    + " sweeps and the CLI talk to the Backend interface");

    static final ArchRule ONLY_THE_CPU_BACKEND_KNOWS_NATIVE_LIBRARIES = noClasses()
            .that().resideOutsideOfPackage("org.wrpn.backend.cpu..").and().resideOutsideOfPackage(DECODER)
            .and().resideOutsideOfPackage(GLOO)
            .should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..")
            .because("OpenBLAS, oneDNN and JavaCPP (org.bytedeco) are the CPU backend's GEMMs and convolutions, nobody else's");

    static final ArchRule THE_DECODER_KNOWS_ONLY_OPENCV = noClasses()
            .that().resideInAPackage(DECODER)
            .should().dependOnClassesThat().resideInAnyPackage("org.bytedeco.openblas..", "org.bytedeco.dnnl..",
                    "org.wrpn.backend..", "org.wrpn.nn..", "org.wrpn.train..", "jcuda..")
            .because("the image decoder is the data layer's: OpenCV through JavaCPP, and no backend");

    static final ArchRule THE_GLOO_ENGINE_KNOWS_ONLY_PYTORCH = noClasses()
            .that().resideInAPackage(GLOO)
            .should().dependOnClassesThat().resideInAnyPackage("org.bytedeco.openblas..", "org.bytedeco.dnnl..", "org.bytedeco.opencv..",
                    "org.wrpn.backend.cpu..", "org.wrpn.backend.cuda..", "org.wrpn.nn..", "org.wrpn.train..", "jcuda..")
            .because("the Gloo engine is PyTorch's c10d behind the Collective interface; tensors reach it through the Backend interface");

    static final ArchRule ONLY_THE_CUDA_BACKEND_KNOWS_JCUDA = noClasses()
            .that().resideOutsideOfPackage("org.wrpn.backend.cuda..")
            .should().dependOnClassesThat().resideInAnyPackage("jcuda..")
            .because("JCuda is the CUDA backend's driver binding, nobody else's");

    static final ArchRule THE_CUDA_BACKEND_DOES_NOT_IMPORT_THE_CPU_BACKEND = noClasses()
            .that().resideInAPackage("org.wrpn.backend.cuda..")
            .should().dependOnClassesThat().resideInAPackage("org.wrpn.backend.cpu..")
            .because("the CUDA backend stands on its own: a GPU job never needs the CPU backend's classes");

    static final ArchRule THE_CPU_BACKEND_DOES_NOT_IMPORT_CUDA = noClasses()
            .that().resideInAPackage("org.wrpn.backend.cpu..")
            .should().dependOnClassesThat().resideInAPackage("org.wrpn.backend.cuda..")
            .because("the CPU backend runs where no CUDA classes can load");

    static final ArchRule CONTRACTS_STAND_ALONE = noClasses()
            .that().resideInAnyPackage("org.wrpn.quant..", "org.wrpn.tensor..")
            .should().dependOnClassesThat().resideInAnyPackage("org.wrpn.backend..", "org.wrpn.nn..", "org.wrpn.train..")
            .because("the quantization contract and the tensor formats are the bottom layer every backend builds on");

    static final ArchRule[] ALL = {NOTHING_ABOVE_BACKENDS_NAMES_AN_IMPLEMENTATION, ONLY_THE_CPU_BACKEND_KNOWS_NATIVE_LIBRARIES,
        ONLY_THE_CUDA_BACKEND_KNOWS_JCUDA, THE_CUDA_BACKEND_DOES_NOT_IMPORT_THE_CPU_BACKEND, THE_CPU_BACKEND_DOES_NOT_IMPORT_CUDA,
        CONTRACTS_STAND_ALONE, THE_DECODER_KNOWS_ONLY_OPENCV, THE_GLOO_ENGINE_KNOWS_ONLY_PYTORCH};
}
