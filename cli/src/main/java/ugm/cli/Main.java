package ugm.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/** Entry point of the {@code ugm} command; the only place that ends the process (see {@link Interrupts}). */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // First of all: an interrupt from here on ends with 130 and removes what ugm has begun to write.
        PrintWriter err = Interrupts.install();
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        Cli.stderrIsTerminal = Progress::stderrIsTerminal; // asked only by a command that shows progress
        if (KernelWarmUp.wanted(args)) {
            KernelWarmUp.start(args); // on the other core, while this one loads classes, parses, opens and plans
        }
        int code = Cli.run(out, err, args);
        out.flush();
        err.flush();
        Interrupts.exit(code);
    }
}
