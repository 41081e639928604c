package ugm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import ugm.core.Printable;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan;

/** Builds the command line: commands, exit-code mapping and the one-line error handler. */
@Command(name = "ugm", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = "Merges fine-tuned model checkpoints (safetensors) by uncertainty-based gradient matching"
                + " and the classic methods.",
        footer = {"", ExitCodes.HELP})
public final class Cli implements Runnable {

    /** Whether the process's stderr is a terminal (set by {@link Main}; in-process runs have none). */
    static volatile boolean stderrIsTerminal;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The version the build wrote into the jar, e.g. {@code 0.1.0-SNAPSHOT}. */
    static String version() {
        Properties p = new Properties();
        try (InputStream in = Cli.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p.getProperty("version", "unknown");
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    /**
     * The commands, by name, in the order help lists them. Picocli builds the model of every
     * command it is given by reflection, and its classes are verified on every start (Java 5
     * bytecode), about 0.1 s for the commands not asked for; so a command line naming one gets
     * only that one, and anything else (help, a typo) gets them all.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("merge", MergeCommand::new);
        COMMANDS.put("demo", () -> new ugm.demo.DemoCommand(KernelSetup::executor));
        COMMANDS.put("convert", ConvertCommand::new);
        COMMANDS.put("fisher", FisherCommand::new);
        COMMANDS.put("inspect", InspectCommand::new);
        COMMANDS.put("validate", ValidateCommand::new);
        COMMANDS.put("family", FamilyCommand::new);
    }

    /** Runs {@code args} with output to {@code out} and {@code err}; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return commandLine(out, err, args).execute(args);
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Cli());
        Supplier<Object> only = args.length > 0 ? COMMANDS.get(args[0]) : null;
        if (only != null) {
            cl.addSubcommand(only.get());
        } else {
            COMMANDS.values().forEach(c -> cl.addSubcommand(c.get()));
            cl.addSubcommand(new CommandLine.HelpCommand());
        }
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler(Cli::handle);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("ugm: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, c.getErr()); // "Did you mean: merge?"
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for more information.");
            return ExitCodes.USAGE;
        });
        return cl;
    }

    private static int handle(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        boolean verbose = isVerbose(parsed);
        Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        int code;
        if (t instanceof MergePlan.MergePlanException p && p.problems().size() > 1) {
            err.println("ugm: " + p.problems().size() + " problems:");
            p.problems().forEach(problem -> err.println("  " + Printable.of(problem)));
            code = p.kind().exitCode();
        } else if (t instanceof UgmException u) {
            err.println("ugm: " + Printable.of(u.getMessage()));
            code = u.kind().exitCode();
        } else if (t instanceof IOException io) {
            err.println("ugm: I/O error: " + Printable.of(io.toString()));
            code = ExitCodes.IO;
        } else {
            err.println("ugm: internal error: " + Printable.of(t.toString()) + (verbose ? "" : " (rerun with --verbose for details)"));
            code = ExitCodes.INTERNAL;
        }
        if (verbose) {
            t.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    private static boolean isVerbose(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /** Reads the version the build wrote into the jar. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ugm " + version() + " (Java " + Runtime.version() + ", "
                    + KernelSetup.kernels().name() + " kernels)"};
        }
    }
}
