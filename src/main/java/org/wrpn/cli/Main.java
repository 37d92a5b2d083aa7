package org.wrpn.cli;

import java.io.PrintWriter;
import org.apache.logging.log4j.LogManager;
import org.wrpn.BadInputException;
import org.wrpn.train.NumericalFailureException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `wrpn` command line. Exit codes: 0 done, 1 internal error, 2 bad input, 4 numerical failure. */
@Command(name = "wrpn", mixinStandardHelpOptions = true, version = "wrpn 0.1.0",
        description = "Train wide reduced-precision networks with k-bit packed activations.",
        subcommands = {TrainCommand.class, EvalCommand.class, PlanCommand.class, BenchCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_INTERNAL = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_NUMERICAL = 4;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI in this JVM and returns the exit code (used by tests). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** Runs the CLI with its error stream redirected (tests read the one-line errors from it). */
    public static int run(PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setErr(err);
        for (CommandLine sub : cl.getSubcommands().values()) sub.setErr(err);
        return cl.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("error: " + oneLine(ex.getMessage()) + " (see 'wrpn " + ex.getCommandLine().getCommandName() + " --help')");
            err.flush();
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            int code;
            if (ex instanceof BadInputException) {
                err.println("error: " + oneLine(ex.getMessage()));
                code = EXIT_BAD_INPUT;
            } else if (ex instanceof NumericalFailureException) {
                err.println("error: numerical failure: " + oneLine(ex.getMessage()));
                code = EXIT_NUMERICAL;
            } else {
                LogManager.getLogger(Main.class).debug("internal error", ex);
                err.println("error: internal: " + ex.getClass().getSimpleName() + ": " + oneLine(ex.getMessage())
                        + " (run with -Dwrpn.logLevel=debug for the stack trace)");
                code = EXIT_INTERNAL;
            }
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
