package ugm.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import ugm.io.Temporaries;

/**
 * What Ctrl-C (SIGINT) and SIGTERM do to the ugm process: the JVM runs its shutdown hooks, and
 * this one removes the unfinished output's temporaries (once the file step in flight has ended;
 * see {@link Temporaries}), says so on one line and ends the process with exit code 130. A normal
 * end (through {@link #exit}) does none of that.
 *
 * <p>{@link Main} installs it before anything else, so an interrupt ends with 130 from ugm's
 * first milliseconds on; only a signal during the JVM's own start-up, before ugm's code runs
 * (and before anything of ugm's exists), gets the JVM's default 143.
 */
final class Interrupts {

    private static final Object STATE = new Object();
    /** Guarded by STATE. */
    private static boolean finished;

    private Interrupts() {
    }

    /**
     * Installs the hook and returns the process's stderr as a writer. Once the hook runs, only it
     * writes there: a line the command prints while it is being stopped (the error its next step
     * gets, a progress line) would be a second, misleading line.
     */
    static PrintWriter install() {
        Gate gate = new Gate(new BufferedWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8)));
        PrintWriter err = new PrintWriter(gate, true);
        Runtime.getRuntime().addShutdownHook(new Hook(gate, err)); // a class, not a lambda: no bootstrap before it is in place
        return err;
    }

    /** The shutdown hook. */
    private static final class Hook extends Thread {
        private final Gate gate;
        private final PrintWriter err;

        Hook(Gate gate, PrintWriter err) {
            super("ugm-interrupt");
            this.gate = gate;
            this.err = err;
        }

        @Override
        public void run() {
            synchronized (STATE) {
                if (finished) {
                    return;
                }
            }
            gate.takeOver();
            List<Path> removed = Temporaries.removeAll();
            err.println("ugm: interrupted" + (removed.isEmpty() ? "" : "; removed the unfinished " + String.join(", ",
                    removed.stream().map(Path::toString).toList())));
            err.flush();
            // The exit code of an interrupted command, whichever signal it was (the JVM would say 143 for SIGTERM).
            Runtime.getRuntime().halt(ExitCodes.INTERRUPTED);
        }
    }

    /** Ends the process normally with {@code code}. */
    static void exit(int code) {
        synchronized (STATE) {
            finished = true;
        }
        System.exit(code);
    }

    /** A writer that, once {@link #takeOver()} is called, lets only that thread write. */
    static final class Gate extends Writer {
        private final Writer out;
        private Thread owner;

        Gate(Writer out) {
            this.out = out;
        }

        /**
         * From now on only the calling thread writes. Waits for a line being printed by another
         * thread to be complete (PrintWriter prints a line under this writer's lock).
         */
        synchronized void takeOver() {
            owner = Thread.currentThread();
        }

        private boolean open() {
            return owner == null || owner == Thread.currentThread();
        }

        @Override
        public synchronized void write(char[] chars, int off, int len) throws IOException {
            if (open()) {
                out.write(chars, off, len);
            }
        }

        @Override
        public synchronized void flush() throws IOException {
            if (open()) {
                out.flush();
            }
        }

        @Override
        public synchronized void close() throws IOException {
            flush();
        }
    }
}
