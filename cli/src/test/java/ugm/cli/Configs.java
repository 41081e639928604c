package ugm.cli;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tests' configs name their models relative to the test's folder; ugm reads a relative path
 * against the working directory (the module's, in a test), so they are made absolute first.
 */
final class Configs {
    /** A value of base_model, model, fisher, base_fisher or a tokenizer source (but base and union), in block or flow style; aliases and anchors are left alone. */
    private static final Pattern REF = Pattern.compile("((?:^|[\\s{,])(?:base_model|model|fisher|base_fisher|tokenizer_source|source): *)([^\\s,}\\]#]+)",
            Pattern.MULTILINE);

    private Configs() {
    }

    /** {@code yaml} with each relative model, Fisher and base path resolved against {@code dir}. */
    static String absolute(String yaml, Path dir) {
        return REF.matcher(yaml).replaceAll(m -> Matcher.quoteReplacement(m.group(1)
                + (m.group(2).startsWith("*") || m.group(2).startsWith("&")
                        || m.group(1).contains("source") && (m.group(2).equals("base") || m.group(2).equals("union")) ? m.group(2)
                        : dir.resolve(m.group(2)).toString())));
    }
}
