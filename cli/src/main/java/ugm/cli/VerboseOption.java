package ugm.cli;

import picocli.CommandLine.Option;

/** {@code -v}/{@code --verbose}, shared by every command: stack traces on errors. */
public final class VerboseOption {
    /** One per time given: mergekit-yaml's {@code -v} may be repeated ({@code -vv}). */
    @Option(names = {"-v", "--verbose"}, description = "Show stack traces with errors (-v may be repeated, as mergekit-yaml's).")
    boolean[] verbose;
}
