package ugm.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The safetensors files written by other tools, kept in this module's test resources under
 * {@code ugm/io/realfiles/} (their README.md says where each came from). The cli tests use them
 * too, through this module's test jar.
 */
public final class RealFiles {
    /** Every file, by name. */
    public static final List<String> NAMES = List.of("python-safetensors-sample.safetensors",
            "torch-small-with-metadata.safetensors", "tinygrad-mnist-mlp.safetensors");

    private static Path copies;

    private RealFiles() {
    }

    /**
     * The file {@code name} as a path: the resource itself when the test classes are a folder (as
     * in a build), else a copy in a temporary folder (when they come from a jar: files are mapped,
     * so they must be files).
     */
    public static synchronized Path path(String name) {
        URL url = RealFiles.class.getResource("realfiles/" + name);
        if (url == null) {
            throw new IllegalArgumentException("no test resource ugm/io/realfiles/" + name);
        }
        try {
            if (url.getProtocol().equals("file")) {
                return Path.of(url.toURI());
            }
            if (copies == null) {
                copies = Files.createTempDirectory("ugm-realfiles-");
                copies.toFile().deleteOnExit();
            }
            Path copy = copies.resolve(name);
            if (!Files.exists(copy)) {
                try (InputStream in = url.openStream()) {
                    Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                }
                copy.toFile().deleteOnExit();
            }
            return copy;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
