package ugm.core;

/**
 * An error a user can cause or act on. Its message is one line that names the file and tensor
 * involved; {@link #kind()} says what kind of problem it is.
 *
 * <p>Immutable once thrown, like any exception.
 */
public class UgmException extends RuntimeException {

    /** What went wrong: the command line maps each kind to its exit code. */
    public enum Kind {
        /** Bad command line, config or call: the caller must change what it asks. */
        USAGE,
        /** An input file or folder that is malformed, missing pieces or inconsistent. */
        INVALID_INPUT,
        /** Reading or writing failed (permissions, disk full, a file changed underneath). */
        IO
    }

    /** What kind of problem this is. */
    private final Kind kind;

    /** An error of kind {@code kind}; {@code message} is one line. */
    public UgmException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** An error of kind {@code kind}, caused by {@code cause}; {@code message} is one line. */
    public UgmException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    /** What kind of problem this is. */
    public Kind kind() {
        return kind;
    }
}
