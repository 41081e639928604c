package ugm.job;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * ugm's version, as the build wrote it into this jar: the model card's and {@code ugm --version}'s.
 *
 * <p>Stateless: safe to call from any thread.
 */
public final class Version {
    private Version() {
    }

    /** e.g. {@code 0.1.0-SNAPSHOT}; "unknown" when run from classes without the build's resource. */
    public static String of() {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p.getProperty("version", "unknown");
    }
}
