package ugm.job.config;

import ugm.core.UgmException;

/**
 * A config that cannot be used: a usage error (exit 2) whose message names the key and the file.
 *
 * <p>Immutable once thrown, like any exception.
 */
public final class ConfigException extends UgmException {
    /** A config error; {@code message} is one line naming the file and the key. */
    public ConfigException(String message) {
        super(Kind.USAGE, message);
    }
}
