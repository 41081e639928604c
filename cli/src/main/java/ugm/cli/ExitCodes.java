package ugm.cli;

/** The process exit codes, as documented in the README and in {@code ugm --help}. */
public final class ExitCodes {
    public static final int OK = 0;
    /** A bug in ugm: please report it with the --verbose output. */
    public static final int INTERNAL = 1;
    /** Bad command line or config. */
    public static final int USAGE = 2;
    /** An input is malformed, incomplete or inconsistent. */
    public static final int INVALID_INPUT = 3;
    /** Reading or writing failed. */
    public static final int IO = 4;
    /** Interrupted (Ctrl-C). */
    public static final int INTERRUPTED = 130;

    /** The exit code of an error of kind {@code kind}. */
    static int of(ugm.core.UgmException.Kind kind) {
        return switch (kind) {
            case USAGE -> USAGE;
            case INVALID_INPUT -> INVALID_INPUT;
            case IO -> IO;
        };
    }

    static final String HELP = """
            Exit codes:
              0    success
              1    internal error (a bug: rerun with --verbose and report it)
              2    usage error (bad option, argument or config)
              3    invalid input (malformed file, missing tensor, shape mismatch, ...)
              4    I/O error (unreadable input, unwritable output, disk full, ...)
              130  interrupted""";

    private ExitCodes() {
    }
}
