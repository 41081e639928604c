package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * {@code ugm inspect} and {@code ugm validate} in their plain forms, run without picocli: one
 * PATH and the flags {@code --json} (inspect only) and {@code --verbose}, each at most once, in
 * any order. For these read-only commands picocli's model costs more than the work itself (its
 * classes are Java 5 bytecode, which the start-up cache cannot keep, and its annotations are read
 * through dynamic proxies generated on every start). Anything else (help, an unknown or repeated
 * option, a second path, a path that starts with {@code -} or {@code @}, or one that is not a
 * valid path) goes to picocli as before. The tests run each plain form both ways and compare.
 */
final class QuickCommands {
    private QuickCommands() {
    }

    /** Runs {@code args} when they are a plain form and returns the exit code; null when they are not. */
    static Integer run(PrintWriter out, PrintWriter err, String... args) {
        if (args.length < 2 || args.length > 4) {
            return null;
        }
        boolean inspect = args[0].equals("inspect");
        if (!inspect && !args[0].equals("validate")) {
            return null;
        }
        String pathArg = null;
        boolean json = false;
        boolean verbose = false;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (inspect && a.equals("--json") && !json) {
                json = true;
            } else if (a.equals("--verbose") && !verbose) {
                verbose = true;
            } else if (pathArg == null && !a.isEmpty() && a.charAt(0) != '-' && a.charAt(0) != '@') {
                pathArg = a;
            } else {
                return null;
            }
        }
        if (pathArg == null) {
            return null;
        }
        Path path;
        try {
            path = Path.of(pathArg); // as the converter Cli registers with picocli
        } catch (InvalidPathException e) {
            return null; // picocli says why
        }
        try {
            if (inspect) {
                InspectCommand c = new InspectCommand();
                c.path = path;
                c.json = json;
                return c.run(out);
            }
            ValidateCommand c = new ValidateCommand();
            c.path = path;
            return c.run(out);
        } catch (Exception e) {
            return Cli.report(e, err, verbose);
        }
    }
}
