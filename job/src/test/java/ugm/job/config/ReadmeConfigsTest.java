package ugm.job.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.merge.methods.Method;

/** The README's config examples parse, one per method. */
class ReadmeConfigsTest {
    @TempDir
    Path tmp;

    @Test
    void everyExampleParsesAndTheyCoverEveryMethod() throws IOException {
        String readme = Files.readString(Path.of(System.getProperty("maven.multiModuleProjectDirectory", "..")).resolve("README.md"));
        Matcher m = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        Set<Method> seen = EnumSet.noneOf(Method.class);
        int i = 0;
        while (m.find()) {
            Path cfg = tmp.resolve("example-" + i++ + ".yml");
            Files.writeString(cfg, m.group(1));
            seen.add(ConfigParser.read(cfg).method());
        }
        assertEquals(EnumSet.allOf(Method.class), seen);
    }

    /** The method table names every method, and the parameter table every parameter, as the registry has them. */
    @Test
    void theTablesListEveryMethodAndParameter() throws IOException {
        String readme = Files.readString(Path.of(System.getProperty("maven.multiModuleProjectDirectory", "..")).resolve("README.md"));
        for (Method m : Method.values()) {
            assertTrue(readme.contains("\n| `" + m.id() + "` |"), "the method table lacks " + m.id());
        }
        for (ugm.core.merge.Parameter p : ugm.core.merge.Parameter.values()) {
            assertTrue(readme.contains("\n| `" + p.key() + "` "), "the parameter table lacks " + p.key());
        }
    }
}
