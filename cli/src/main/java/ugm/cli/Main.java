package ugm.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** Entry point of the {@code ugm} command; the only place that ends the process (see {@link Interrupts}). */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        Cli.stderrIsTerminal = Progress::stderrIsTerminal; // asked only by a command that shows progress
        Interrupts.install(err);
        if (KernelWarmUp.wanted(args)) {
            KernelWarmUp.start(); // on the other core, while this one loads classes, parses, opens and plans
        }
        int code = Cli.run(out, err, args);
        out.flush();
        err.flush();
        Interrupts.exit(code);
    }
}
