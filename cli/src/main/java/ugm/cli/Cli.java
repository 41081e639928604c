package ugm.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.function.BooleanSupplier;
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

    /**
     * Whether the process's stderr is a terminal: set by {@link Main} (in-process runs have none),
     * asked only when a progress bar could be drawn, since the native call behind it costs about
     * 0.1 s of start-up.
     */
    static volatile BooleanSupplier stderrIsTerminal = () -> false;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The version the build wrote into the jar, e.g. {@code 0.1.0-SNAPSHOT}. */
    static String version() {
        return ugm.job.Version.of();
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    /**
     * The commands, by name, in the order help lists them. Picocli builds the model of every
     * command it is given by reflection, and its classes are verified on every start (Java 5
     * bytecode), about 0.1 s for the commands not asked for; so a command line naming one gets
     * only that one, {@code --version} alone and the plain forms of inspect and validate
     * ({@link QuickCommands}) get no model at all, and anything else (help, a typo) gets them all.
     */
    static final List<String> COMMANDS = List.of("merge", "demo", "convert", "fisher", "inspect", "validate", "family");

    /** A new object for the command {@code name}, or null (a switch: no lambda to link at start-up). */
    private static Object command(String name) {
        return switch (name) {
            case "merge" -> new MergeCommand();
            case "demo" -> new ugm.demo.DemoCommand(KernelSetup::executor);
            case "convert" -> new ConvertCommand();
            case "fisher" -> new FisherCommand();
            case "inspect" -> new InspectCommand();
            case "validate" -> new ValidateCommand();
            case "family" -> new FamilyCommand();
            default -> null;
        };
    }

    /** Runs {@code args} with output to {@code out} and {@code err}; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        if (versionOnly(args)) {
            // What picocli prints for it, without building picocli's model (it costs more than the rest).
            out.println(versionLine());
            out.flush();
            return ExitCodes.OK;
        }
        Integer quick = QuickCommands.run(out, err, args);
        if (quick != null) {
            return quick;
        }
        return commandLine(out, err, args).execute(args);
    }

    /** {@code ugm --version} (or {@code -V}) and nothing else. */
    static boolean versionOnly(String... args) {
        return args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"));
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Cli());
        Object only = args.length > 0 ? command(args[0]) : null;
        if (only != null) {
            cl.addSubcommand(only);
        } else {
            for (String name : COMMANDS) {
                cl.addSubcommand(command(name));
            }
            cl.addSubcommand(new CommandLine.HelpCommand());
        }
        cl.registerConverter(Path.class, Path::of); // the conversion QuickCommands makes too
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
        return report(ex, cl.getErr(), isVerbose(parsed));
    }

    /** Reports what a command threw in one line on {@code err} (with the stack trace when verbose); returns the exit code. */
    static int report(Exception ex, PrintWriter err, boolean verbose) {
        Throwable t = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        int code;
        if (t instanceof MergePlan.MergePlanException p && p.problems().size() > 1) {
            err.println("ugm: " + p.problems().size() + " problems:");
            p.problems().forEach(problem -> err.println("  " + Printable.of(problem)));
            code = ExitCodes.of(p.kind());
        } else if (t instanceof UgmException u) {
            err.println("ugm: " + Printable.of(u.getMessage()));
            code = ExitCodes.of(u.kind());
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

    /** What {@code ugm --version} prints, e.g. {@code ugm 0.1.0 (Java 25.0.1+8-LTS, vector-256 kernels)}. */
    static String versionLine() {
        return "ugm " + version() + " (Java " + Runtime.version() + ", " + KernelSetup.kernels().name() + " kernels)";
    }

    /** Reads the version the build wrote into the jar. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {versionLine()};
        }
    }
}
