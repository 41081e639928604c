package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What merge and convert copy besides the weights: the base's other files, only those really in
 * its folder; its config.json checked before any work; output names up to the file-name limit.
 */
class ModelFilesCommandTest {
    @TempDir
    Path tmp;

    Path model(String name) {
        return new Checkpoints().put("w", 1, 2, 3).put("b", 4).write(tmp.resolve(name));
    }

    static List<String> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static List<String> merge(Path base, Path model, Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("merge", "--method", "linear", "--base", base.toString(),
                "--model", model.toString(), "--out", out.toString()));
        a.addAll(List.of(extra));
        return a;
    }

    /** Nothing under {@code out}'s name, and nothing beside it marked as its temporary. */
    static void assertNoOutput(Path out) throws IOException {
        assertFalse(Files.exists(out), out::toString);
        try (Stream<Path> s = Files.list(out.getParent())) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains(".ugm-")).toList());
        }
    }

    @Test
    void linksOutOfTheBaseFolderAreNotCopiedAndTheUserIsWarned() throws IOException {
        Path secret = Files.writeString(Files.createDirectories(tmp.resolve("home/.cache/huggingface")).resolve("token"), "hf_secret");
        Path base = model("base");
        Files.writeString(base.resolve("config.json"), "{\"torch_dtype\": \"float32\"}");
        Files.writeString(base.resolve("generation_config.json"), "{}");
        Files.createSymbolicLink(base.resolve("tokenizer.json"), secret);
        Path other = model("other");
        String warning = "ugm: warning: " + base.resolve("tokenizer.json") + " is a link to " + secret.toRealPath()
                + ", outside the model folder; not copied";

        Path out = tmp.resolve("merged");
        Run r = Run.of(merge(base, other, out).toArray(String[]::new));
        assertEquals(0, r.code(), r::toString);
        assertEquals(List.of("README.md", "config.json", "generation_config.json", "model.safetensors", "ugm_config.yml"), listing(out));
        assertTrue(r.err().lines().anyMatch(warning::equals), r.err());

        Path quiet = tmp.resolve("quiet");
        Run q = Run.of(merge(base, other, quiet, "--quiet").toArray(String[]::new));
        assertEquals(0, q.code(), q::toString);
        assertEquals("", q.err());
        assertFalse(Files.exists(quiet.resolve("tokenizer.json"), LinkOption.NOFOLLOW_LINKS));

        Run dry = Run.of(merge(base, other, tmp.resolve("dry"), "--dry-run").toArray(String[]::new));
        assertEquals(0, dry.code(), dry::toString);
        assertTrue(dry.out().contains("\n" + warning.substring("ugm: ".length()) + "\n"), dry.out());

        Path converted = tmp.resolve("converted");
        Run c = Run.of("convert", base.toString(), converted.toString(), "--dtype", "bf16");
        assertEquals(0, c.code(), c::toString);
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), listing(converted));
        assertTrue(Files.readString(converted.resolve("config.json")).contains("\"bfloat16\""));
        assertTrue(c.err().lines().anyMatch(warning::equals), c.err());
        Run cq = Run.of("convert", base.toString(), tmp.resolve("converted-quiet").toString(), "--quiet");
        assertEquals(0, cq.code(), cq::toString);
        assertEquals("", cq.err());
    }

    @Test
    void anInvalidConfigOfTheBaseIsRefusedBeforeTheMergeStarts() throws IOException {
        Path base = model("base");
        Path config = Files.writeString(base.resolve("config.json"), "{\n  \"torch_dtype\": \"float32\",\n}\n");
        Path other = model("other");
        String expected = "ugm: " + config + ": not valid JSON: ";
        for (String[] extra : new String[][] {{}, {"--out-dtype", "bf16"}, {"--dry-run"}}) {
            Path out = tmp.resolve("out");
            Run r = Run.of(merge(base, other, out, extra).toArray(String[]::new));
            assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
            assertTrue(r.errLine().startsWith(expected) && r.errLine().contains("(line 3, column 1)"), r.err());
            assertEquals("", r.out());
            assertNoOutput(out);
        }
        Path out = tmp.resolve("converted");
        Run c = Run.of("convert", base.toString(), out.toString(), "--dtype", "f16");
        assertEquals(ExitCodes.INVALID_INPUT, c.code(), c::toString);
        assertTrue(c.errLine().startsWith(expected), c.err());
        assertNoOutput(out);
        assertEquals("{\n  \"torch_dtype\": \"float32\",\n}\n", Files.readString(config), "the input is untouched");
    }

    @Test
    void outputNamesUpToTheFileNameLimitWork() throws IOException {
        Path base = model("base");
        Path other = model("other");
        for (String name : List.of("o".repeat(255), "\u00e9".repeat(127), "x".repeat(230))) {
            Path out = tmp.resolve(name);
            Run r = Run.of(merge(base, other, out, "--quiet").toArray(String[]::new));
            assertEquals(0, r.code(), r::toString);
            assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
            Run again = Run.of(merge(base, other, out, "--quiet", "--force").toArray(String[]::new)); // replaces it: the old name
            assertEquals(0, again.code(), again::toString);
            Run c = Run.of("convert", out.toString(), tmp.resolve("c" + name.substring(1)).toString(), "--quiet");
            assertEquals(0, c.code(), c::toString);
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains(".ugm-")).toList());
        }
    }
}
