/**
 * The scheduler-facing API: job specs, memory plans, and jobs to start, watch, stop and resume.
 *
 * <p>A {@link org.wrpn.job.JobSpec} is the JSON job document (schema: docs/job-spec.schema.json;
 * `wrpn train --spec FILE` reads the same). {@link org.wrpn.job.Jobs#plan} answers the memory
 * questions from the memory ledger; {@link org.wrpn.job.Jobs#start} runs a job on its own thread
 * and returns a {@link org.wrpn.job.JobHandle}. Listeners receive typed {@link org.wrpn.job.JobEvent}s;
 * {@link org.wrpn.job.StatusJson} writes them as JSON lines, and {@link org.wrpn.job.ExitCode} maps
 * outcomes to the exit codes of `wrpn train`. Several jobs may run in one JVM on the CPU backend:
 * each has its own backend, network, loader and output directory.
 *
 * <p>Example (src/test/java/org/wrpn/examples/SchedulerExample.java, compiled and run by the build):
 * <pre>{@code
 * JobSpec spec = JobSpec.read(Path.of("job.json"));
 * JobPlan plan = Jobs.plan(spec, 8L << 30);            // bytes per step, largest batch in 8 GiB
 * JobHandle job = Jobs.start(spec, event -> {
 *     switch (event) {
 *         case JobEvent.Started s -> System.out.println("started at step " + s.globalStep());
 *         case JobEvent.EpochEnded e -> System.out.println("test accuracy " + e.result().testAccuracy());
 *         case JobEvent.CheckpointWritten c -> System.out.println("checkpoint " + c.sidecar());
 *         case JobEvent.Finished f -> System.out.println(f.state());
 *         case JobEvent.Failed f -> System.out.println("failed: " + f.message());
 *     }
 * });
 * job.status();                 // state, epoch, step, newest checkpoint
 * job.cancel();                 // checkpoint after the current step, then STOPPED
 * JobResult r = job.awaitCompletion();
 * Jobs.start(spec, null);       // the same spec resumes from the newest good checkpoint
 * }</pre>
 */
package org.wrpn.job;
