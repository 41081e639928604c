package ugm.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import ugm.io.Temporaries;

/**
 * What Ctrl-C (SIGINT) and SIGTERM do to the ugm process: the JVM runs its shutdown hooks, and
 * this one removes the unfinished output's temporaries, says so on one line and ends the process
 * with exit code 130. A normal end (through {@link #exit}) does none of that.
 */
final class Interrupts {

    private static volatile boolean finished;

    private Interrupts() {
    }

    /** Installs the hook; {@code err} is where the one line goes. */
    static void install(PrintWriter err) {
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("ugm-interrupt").unstarted(() -> {
            if (finished) {
                return;
            }
            List<Path> removed = Temporaries.removeAll();
            err.println("ugm: interrupted" + (removed.isEmpty() ? "" : "; removed the unfinished " + String.join(", ",
                    removed.stream().map(Path::toString).toList())));
            err.flush();
            // The exit code of an interrupted command, whichever signal it was (the JVM would say 143 for SIGTERM).
            Runtime.getRuntime().halt(ExitCodes.INTERRUPTED);
        }));
    }

    /** Ends the process normally with {@code code}. */
    static void exit(int code) {
        finished = true;
        System.exit(code);
    }
}
