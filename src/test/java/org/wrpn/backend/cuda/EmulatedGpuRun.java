package org.wrpn.backend.cuda;

import java.io.PrintWriter;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs every @Tag("gpu") test of this package but NCCL's (@Tag("nccl")) in this JVM and exits 0 only when all ran and passed.
 * EmulatedGpuTest starts it with LD_LIBRARY_PATH pointing at the emulated CUDA driver
 * (native/emu/fake_cuda.cpp) and -Dwrpn.requireGpu=true, so that nothing can pass by skipping.
 */
public final class EmulatedGpuRun {
    private EmulatedGpuRun() {}

    public static void main(String[] args) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(DiscoverySelectors.selectPackage(EmulatedGpuRun.class.getPackageName()))
                // NCCL runs on a real CUDA runtime, which the emulated driver is not: its test waits for a GPU
                .filters(TagFilter.includeTags("gpu"), TagFilter.excludeTags("nccl"))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(request, summary);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 30);
        s.printTo(out);
        boolean ok = s.getTotalFailureCount() == 0 && s.getTestsAbortedCount() == 0 && s.getTestsSkippedCount() == 0
                && s.getContainersFailedCount() == 0 && s.getContainersAbortedCount() == 0 && s.getTestsSucceededCount() > 0;
        System.out.println("emulated GPU tests: " + s.getTestsSucceededCount() + " passed, " + s.getTotalFailureCount()
                + " failed, " + (s.getTestsAbortedCount() + s.getContainersAbortedCount()) + " aborted");
        System.exit(ok ? 0 : 1);
    }
}
