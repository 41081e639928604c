package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An output that is, contains or lies inside an input is refused before anything is touched:
 * publishing replaces the output folder whole, so with {@code --force} it would delete the inputs.
 * Every case checks exit 2, one line naming the input, and every input file's bytes unchanged.
 */
class OutputOverlapTest {
    @TempDir
    static Path tmp;
    static Path p;

    @BeforeAll
    static void family() {
        p = tmp.resolve("p");
        Run r = Run.of("family", p.toString(), "--size", "1MB", "--tasks", "2");
        assertEquals(0, r.code(), r::toString);
    }

    /** Every file below {@code root} with a digest of its bytes. */
    static Map<Path, String> snapshot(Path root) throws IOException {
        Map<Path, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                try {
                    m.put(root.relativize(f), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
                } catch (NoSuchAlgorithmException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return m;
    }

    static String[] merge(String method, Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("merge", "--method", method, "--base", p.resolve("base").toString(),
                "--model", p.resolve("task-1").toString(), "--model", p.resolve("task-2").toString(), "--out", out.toString(), "--force"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    static void assertRefused(String how, Path input, String... args) throws IOException {
        Map<Path, String> before = snapshot(tmp);
        Run r = Run.of(args);
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        String line = r.errLine();
        assertTrue(line.contains(" " + how + " the input " + input), line);
        assertTrue(line.endsWith("; choose an output folder apart from every input"), line);
        assertEquals(before, snapshot(tmp), "nothing changed");
    }

    @Test
    void anOutputHoldingTheInputsIsRefused() throws IOException {
        assertRefused("contains", p.resolve("base"), merge("task_arithmetic", p));
        assertRefused("contains", p.resolve("base"), merge("task_arithmetic", tmp));
        assertRefused("contains", p.resolve("base"), merge("task_arithmetic", p.resolve("task-1").resolve("..").resolve("..")));
    }

    @Test
    void anOutputThatIsAnInputOrItsFisherIsRefused() throws IOException {
        assertRefused("is", p.resolve("base"), merge("task_arithmetic", p.resolve("base")));
        assertRefused("is", p.resolve("task-2").resolve("hessian"), merge("gradient_matching", p.resolve("task-2").resolve("hessian")));
    }

    @Test
    void anOutputInsideAnInputFolderIsRefused() throws IOException {
        assertRefused("lies inside", p.resolve("task-1"), merge("task_arithmetic", p.resolve("task-1").resolve("merged")));
    }

    @Test
    void linksAreResolved() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-p"), p);
        assertRefused("contains", p.resolve("base"), merge("task_arithmetic", link));
        assertRefused("is", p.resolve("base"), merge("task_arithmetic", link.resolve("base")));
    }

    @Test
    void dotAsTheOutputOfARealProcessIsRefused() throws Exception {
        Map<Path, String> before = snapshot(p);
        Process proc = FaultsTest.start(p, null, List.of("merge", "--method", "task_arithmetic", "--base", "base", "--model", "task-1",
                "--model", "task-2", "--out", ".", "--force"));
        int code = FaultsTest.await(proc);
        List<String> err = FaultsTest.errLines(p);
        Files.delete(p.resolve("out.txt"));
        Files.delete(p.resolve("err.txt"));
        assertEquals(ExitCodes.USAGE, code, err::toString);
        assertEquals(List.of("ugm: output . contains the input " + p.resolve("base") + "; choose an output folder apart from every input"), err);
        assertEquals(before, snapshot(p), "nothing changed");
    }

    @Test
    void theConfigFileCountsAsAnInput() throws IOException {
        Path c = Files.createDirectories(tmp.resolve("configs"));
        Path config = c.resolve("merge.yml");
        Files.writeString(config, "merge_method: task_arithmetic\nbase_model: " + p.resolve("base") + "\nmodels:\n  - model: "
                + p.resolve("task-1") + "\n");
        assertRefused("contains", config, "merge", config.toString(), c.toString(), "--force");
        // An output beside the config, in its folder, is fine.
        Run ok = Run.of("merge", config.toString(), c.resolve("out").toString());
        assertEquals(0, ok.code(), ok::toString);
    }

    @Test
    void theDryRunSaysSoToo() throws IOException {
        Map<Path, String> before = snapshot(tmp);
        Run r = Run.of(merge("task_arithmetic", p, "--dry-run"));
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.err().contains("contains the input " + p.resolve("base")), r::toString);
        assertEquals(before, snapshot(tmp));
    }

    @Test
    void convertOntoItsInputIsRefused() throws IOException {
        Path in = p.resolve("base");
        assertRefused("is", in, "convert", in.toString(), in.toString(), "--force");
        assertRefused("contains", in, "convert", in.toString(), p.toString(), "--force", "--dtype", "f32");
        assertRefused("contains", in.resolve("model.safetensors"), "convert", in.resolve("model.safetensors").toString(),
                in.toString(), "--force");
    }
}
