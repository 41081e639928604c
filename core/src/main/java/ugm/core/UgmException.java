package ugm.core;

/**
 * An error a user can cause or act on. Its message is one line that names the file and tensor
 * involved; {@link #kind()} decides the process exit code.
 */
public class UgmException extends RuntimeException {

    /** What went wrong, which fixes the exit code. */
    public enum Kind {
        /** Bad command line or config: exit 2. */
        USAGE(2),
        /** An input file or folder that is malformed, missing pieces or inconsistent: exit 3. */
        INVALID_INPUT(3),
        /** Reading or writing failed (permissions, disk full, a file changed underneath): exit 4. */
        IO(4);

        private final int exitCode;

        Kind(int exitCode) {
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    private final Kind kind;

    public UgmException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public UgmException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
