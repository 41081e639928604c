package ugm.cli;

import picocli.CommandLine.Option;

/** {@code --verbose}, shared by every command: stack traces on errors. */
public final class VerboseOption {
    @Option(names = "--verbose", description = "Show stack traces with errors.")
    boolean verbose;
}
