package ugm.cli;

import picocli.CommandLine.Option;
import ugm.core.UgmException;

/** {@code --threads}, {@code --force} and {@code --quiet}, shared by the commands that write a model folder. */
public final class RunOptions {
    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "Worker threads (default: all processors).")
    int threads;

    @Option(names = "--force", description = "Replace a non-empty output folder (only once the new one is complete).")
    boolean force;

    @Option(names = "--quiet", description = "Print nothing but errors: no progress, warnings or summary.")
    boolean quiet;

    /** The thread count asked for, 0 meaning all processors. */
    int threads() {
        if (threads < 0) {
            throw new UgmException(UgmException.Kind.USAGE, "--threads must be >= 0");
        }
        return threads;
    }
}
