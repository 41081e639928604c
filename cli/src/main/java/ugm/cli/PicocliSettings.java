package ugm.cli;

/**
 * Two of picocli's documented system properties that shorten every start without changing what
 * the command line accepts (each is left alone when already set):
 * <ul>
 * <li>{@code picocli.disable.closures=true}: picocli does not look for Groovy closures (a class
 *     lookup that fails on every start);</li>
 * <li>{@code picocli.converters.excludes=.*}: picocli does not look up, by reflection, its
 *     converters for {@code java.time}, {@code java.sql} and {@code java.nio.file} types. ugm's
 *     options take no such type but {@link java.nio.file.Path}, whose converter {@link Cli}
 *     registers itself.</li>
 * </ul>
 */
final class PicocliSettings {
    private PicocliSettings() {
    }

    static void apply() {
        setIfAbsent("picocli.disable.closures", "true");
        setIfAbsent("picocli.converters.excludes", ".*");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
