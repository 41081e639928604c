package ugm.cli;

import java.util.Locale;

/**
 * {@code String.format} without localization (a null locale). For the conversions ugm prints
 * ({@code %s}, {@code %d}, {@code %.Nf}, no grouping) the text is the same as with
 * {@code Locale.ROOT}, but the JDK's locale data is not loaded: the first format with a locale
 * costs about 25 ms of CPU on a cold JVM, a tenth of {@code ugm inspect}. Used by the quick
 * commands, and for the summary lines of merges and conversions.
 */
final class Plain {
    private Plain() {
    }

    static String format(String pattern, Object... args) {
        return String.format((Locale) null, pattern, args);
    }
}
