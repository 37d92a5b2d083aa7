package org.wrpn.cli;

import java.io.PrintWriter;
import org.apache.logging.log4j.LogManager;
import org.wrpn.job.ExitCode;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `wrpn` command line. Exit codes: {@link ExitCode} (0 done, 1 internal, 2 bad input, 3 out of memory, 4 numerical, 5 busy, 6 storage, 130/143 stopped). */
@Command(name = "wrpn", mixinStandardHelpOptions = true, version = "wrpn 0.1.0",
        description = "Train wide reduced-precision networks with k-bit packed activations.",
        subcommands = {TrainCommand.class, EvalCommand.class, ExportCommand.class, PlanCommand.class, SweepCommand.class, ChooseCommand.class, BenchCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_INTERNAL = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_OUT_OF_MEMORY = ExitCode.OUT_OF_MEMORY;
    public static final int EXIT_NUMERICAL = 4;

    /** True when this JVM runs just this command (main), so that it may handle signals and exit codes. */
    private final boolean ownsProcess;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public Main() {
        this(false);
    }

    Main(boolean ownsProcess) {
        this.ownsProcess = ownsProcess;
    }

    boolean ownsProcess() {
        return ownsProcess;
    }

    public static void main(String[] args) {
        System.exit(commandLine(new Main(true)).execute(args));
    }

    /** Runs the CLI in this JVM and returns the exit code (used by tests); signals are left alone. */
    public static int run(String... args) {
        return commandLine(new Main()).execute(args);
    }

    /** Runs the CLI with its error stream redirected (tests read the one-line errors from it). */
    public static int run(PrintWriter err, String... args) {
        CommandLine cl = commandLine(new Main());
        cl.setErr(err);
        for (CommandLine sub : cl.getSubcommands().values()) sub.setErr(err);
        return cl.execute(args);
    }

    static CommandLine commandLine(Main main) {
        CommandLine cl = new CommandLine(main);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + oneLine(ex.getMessage()) + " (see 'wrpn " + ex.getCommandLine().getCommandName() + " --help')");
            err.flush();
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            int code = ExitCode.of(ex);
            if (code == EXIT_INTERNAL) LogManager.getLogger(Main.class).debug("internal error", ex);
            err.println("error: " + ExitCode.message(ex));
            err.flush();
            return code;
        });
        return cl;
    }

    static String oneLine(String s) {
        if (s == null) return "";
        return s.replace('\r', ' ').replace('\n', ' ').trim();
    }
}
