package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import ugm.core.DType;
import ugm.core.UgmException;

/** The model's other files copied into an output: only what is really in the model folder, config.json checked first. */
class ModelFilesTest {

    @TempDir
    Path dir;

    static List<String> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Copies {@code model}'s files into a new output folder, published as {@code out}; returns the warnings. */
    List<String> copy(Path model, Path out, DType dtype) {
        ModelFiles files = ModelFiles.scan(model);
        try (OutputFolder f = OutputFolder.create(out, false)) {
            f.copyModelFiles(files, dtype);
            f.publish();
        }
        return files.warnings();
    }

    @Test
    void regularFilesAreCopiedWeightsHiddenFilesAndFoldersAreNot() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.writeString(m.resolve("tokenizer.json"), "{\"t\":1}");
        Files.writeString(m.resolve("generation_config.json"), "{}");
        Files.writeString(m.resolve("model.safetensors"), "weights");
        Files.writeString(m.resolve(".hidden"), "x");
        Files.createDirectories(m.resolve("hessian"));
        Path out = dir.resolve("out");
        assertEquals(List.of(), copy(m, out, null));
        assertEquals(List.of("generation_config.json", "tokenizer.json"), listing(out));
        assertEquals("{\"t\":1}", Files.readString(out.resolve("tokenizer.json")));
    }

    @Test
    void linksLeadingOutOfTheModelFolderAreSkippedWithAWarning() throws IOException {
        Path home = Files.createDirectories(dir.resolve("home/.cache/huggingface"));
        Path token = Files.writeString(home.resolve("token"), "hf_secret");
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.writeString(m.resolve("config.json"), "{\"a\":1}");
        Files.createSymbolicLink(m.resolve("tokenizer.json"), token);                                       // absolute, outside
        Files.createSymbolicLink(m.resolve("special_tokens_map.json"), Path.of("../home/.cache/huggingface/token")); // relative, outside
        Files.createSymbolicLink(m.resolve("vocab.txt"), Path.of("config.json"));                            // inside: allowed
        Files.createSymbolicLink(m.resolve("merges.txt"), Path.of("absent.txt"));                            // broken
        Path sub = Files.createDirectories(m.resolve("sub"));
        Files.writeString(sub.resolve("inner.txt"), "inner");
        Files.createSymbolicLink(m.resolve("inner.txt"), Path.of("sub/inner.txt"));                         // inside, deeper: allowed
        Path out = dir.resolve("out");
        List<String> warnings = copy(m, out, null);
        assertEquals(List.of("config.json", "inner.txt", "vocab.txt"), listing(out));
        for (String name : listing(out)) {
            assertTrue(Files.isRegularFile(out.resolve(name), LinkOption.NOFOLLOW_LINKS), name + " is a copy, not a link");
        }
        assertEquals("{\"a\":1}", Files.readString(out.resolve("vocab.txt")));
        assertEquals(3, warnings.size(), warnings::toString);
        String real = token.toRealPath().toString();
        assertTrue(warnings.contains(m.resolve("merges.txt") + " is a link to a missing file; not copied"), warnings::toString);
        assertTrue(warnings.contains(m.resolve("special_tokens_map.json") + " is a link to " + real
                + ", outside the model folder; not copied"), warnings::toString);
        assertTrue(warnings.contains(m.resolve("tokenizer.json") + " is a link to " + real
                + ", outside the model folder; not copied"), warnings::toString);
        for (Path f : List.of(out.resolve("tokenizer.json"), out.resolve("special_tokens_map.json"))) {
            assertFalse(Files.exists(f, LinkOption.NOFOLLOW_LINKS), f::toString);
        }
    }

    @Test
    void aHuggingFaceCacheSnapshotLinksIntoItsOwnBlobs() throws IOException {
        Path repo = dir.resolve("hub/models--org--name");
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        Path snapshot = Files.createDirectories(repo.resolve("snapshots/0123abcd"));
        Files.writeString(blobs.resolve("aa11"), "{\"torch_dtype\":\"bfloat16\"}");
        Files.writeString(blobs.resolve("bb22"), "tokens");
        Files.createSymbolicLink(snapshot.resolve("config.json"), Path.of("../../blobs/aa11"));
        Files.createSymbolicLink(snapshot.resolve("tokenizer.json"), Path.of("../../blobs/bb22"));
        Path other = Files.createDirectories(dir.resolve("hub/models--evil--repo/blobs"));
        Files.writeString(other.resolve("cc33"), "not this repo's");
        Files.createSymbolicLink(snapshot.resolve("vocab.json"), Path.of("../../../models--evil--repo/blobs/cc33"));
        Path out = dir.resolve("out");
        List<String> warnings = copy(snapshot, out, DType.F32);
        assertEquals(List.of("config.json", "tokenizer.json"), listing(out));
        assertEquals("tokens", Files.readString(out.resolve("tokenizer.json")));
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"float32\""));
        assertEquals(List.of(snapshot.resolve("vocab.json") + " is a link to " + other.resolve("cc33").toRealPath()
                + ", outside the model folder; not copied"), warnings);
    }

    @Test
    void otherKindsOfFileAreSkippedWithAWarning() throws Exception {
        Path m = Files.createDirectories(dir.resolve("m"));
        Process p = new ProcessBuilder("mkfifo", m.resolve("fifo.txt").toString()).start();
        assumeTrue(p.waitFor() == 0, "mkfifo is not available");
        Files.createSymbolicLink(m.resolve("linked"), Path.of("/dev"));      // a folder: skipped quietly, as folders are
        Path out = dir.resolve("out");
        List<String> warnings = copy(m, out, null);
        assertEquals(List.of(), listing(out));
        assertEquals(List.of(m.resolve("fifo.txt") + " is not a regular file; not copied"), warnings);
    }

    @Test
    void theRewriteOfAValidConfigIsUnchanged() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.writeString(m.resolve("config.json"), "{\"architectures\":[\"LlamaForCausalLM\"],\"torch_dtype\":\"bfloat16\","
                + "\"nested\":{\"torch_dtype\":\"x\",\"dtype\":\"y\"},\"dtype\":\"bfloat16\",\"rope\":{\"factor\":1e-05,"
                + "\"big\":12345678901234567890,\"n\":null,\"t\":true},\"eps\":1.0e-6,\"s\":\"\\u00e9\\n\\ud83d\\ude00\"}");
        Path out = dir.resolve("out");
        copy(m, out, DType.F32);
        assertEquals("""
                {
                  "architectures" : [ "LlamaForCausalLM" ],
                  "torch_dtype" : "float32",
                  "nested" : {
                    "torch_dtype" : "x",
                    "dtype" : "y"
                  },
                  "dtype" : "float32",
                  "rope" : {
                    "factor" : 1.0E-5,
                    "big" : 12345678901234567890,
                    "n" : null,
                    "t" : true
                  },
                  "eps" : 1.0E-6,
                  "s" : "\u00e9\\n\\uD83D\\uDE00"
                }
                """, Files.readString(out.resolve("config.json")));
    }

    @Test
    void pythonsNonNumbersAreJsonToTransformersAndStayNumbers() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.writeString(m.resolve("config.json"), "{\"torch_dtype\": \"float16\", \"x\": NaN, \"y\": [Infinity, -Infinity]}");
        Path out = dir.resolve("out");
        copy(m, out, DType.BF16);
        String got = Files.readString(out.resolve("config.json"));
        assertTrue(got.contains("\"torch_dtype\" : \"bfloat16\"") && got.contains("\"x\" : NaN")
                && got.contains("[ Infinity, -Infinity ]"), got);
    }

    static Stream<Arguments> invalidConfigs() {
        return Stream.of(
                Arguments.of("trailing comma", "{\"torch_dtype\": \"float16\",}".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("cut short", "{\"torch_dtype\": \"float16\"".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("empty", new byte[0]),
                Arguments.of("not an object", "[1, 2]".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("two objects", "{} {}".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("byte order mark", "\uFEFF{}".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("not UTF-8", new byte[] {'{', '"', (byte) 0xFF, '"', ':', '1', '}'}),
                Arguments.of("single quotes", "{'torch_dtype': 'float16'}".getBytes(StandardCharsets.UTF_8)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidConfigs")
    void anInvalidConfigIsRefusedBeforeAnythingIsWritten(String label, byte[] content) throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Path config = Files.write(m.resolve("config.json"), content);
        UgmException e = assertThrows(UgmException.class, () -> ModelFiles.scan(m), label);
        assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().startsWith(config + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void theRewriteRefusesAConfigThatBecameInvalidAfterTheCheck() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Path config = Files.writeString(m.resolve("config.json"), "{\"torch_dtype\": \"float16\"}");
        ModelFiles files = ModelFiles.scan(m);
        Files.writeString(config, "{\"torch_dtype\": ");
        Path out = dir.resolve("out");
        try (OutputFolder f = OutputFolder.create(out, false)) {
            UgmException e = assertThrows(UgmException.class, () -> f.copyModelFiles(files, DType.F32));
            assertEquals(UgmException.Kind.INVALID_INPUT, e.kind());
            assertTrue(e.getMessage().startsWith(config + ": "), e.getMessage());
        }
        assertFalse(Files.exists(out));
    }

    @Test
    void theOldEntryPointReturnsTheWarnings() throws IOException {
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.createSymbolicLink(m.resolve("tokenizer.json"), Files.writeString(dir.resolve("secret"), "s"));
        try (OutputFolder f = OutputFolder.create(dir.resolve("out"), false)) {
            List<String> warnings = f.copyModelFiles(m, null);
            assertEquals(1, warnings.size(), warnings::toString);
            assertTrue(warnings.getFirst().startsWith(m.resolve("tokenizer.json") + " is a link to "), warnings::toString);
        }
    }
}
