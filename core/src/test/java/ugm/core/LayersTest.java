package ugm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * core's packages form layers, each importing only those below it: the types (ugm.core), the
 * kernels, the executor, the sparsifiers, the merge engine, the methods. No cycle, nothing
 * imported upwards. Read from the sources.
 */
class LayersTest {
    static final Map<String, Integer> LAYER = Map.of(
            "ugm.core", 0,
            "ugm.core.kernel", 1,
            "ugm.core.exec", 2,
            "ugm.core.merge.sparsify", 2,
            "ugm.core.merge", 3,
            "ugm.core.merge.methods", 4);

    @Test
    void everyImportGoesDown() throws IOException {
        Pattern pkg = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
        Pattern imp = Pattern.compile("^import (?:static )?(ugm\\.core(?:\\.[a-z]\\w*)*)\\.[A-Z]", Pattern.MULTILINE);
        List<String> upward = new ArrayList<>();
        int files = 0;
        try (Stream<Path> s = Files.walk(Path.of("src/main/java/ugm/core"))) {
            for (Path f : s.filter(p -> p.toString().endsWith(".java")).toList()) {
                String src = Files.readString(f);
                Matcher p = pkg.matcher(src);
                p.find();
                Integer from = LAYER.get(p.group(1));
                assertEquals(true, from != null, "package " + p.group(1) + " of " + f + " has no layer here");
                Matcher m = imp.matcher(src);
                while (m.find()) {
                    Integer to = LAYER.get(m.group(1));
                    if (to == null || (to >= from && !m.group(1).equals(p.group(1)))) {
                        upward.add(f.getFileName() + " (" + p.group(1) + ") imports " + m.group(1));
                    }
                }
                files++;
            }
        }
        assertEquals(true, files > 40, "read " + files + " files");
        assertEquals(List.of(), upward);
    }
}
