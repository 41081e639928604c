package ugm.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import ugm.core.DType;
import ugm.core.TensorInfo;

/**
 * Coverage-guided fuzzing of {@link Checkpoint#open} on a folder whose
 * {@code model.safetensors.index.json} is the fuzzer's input. The folder holds two valid shards
 * ({@code s1}: a, b; {@code s2}: c) and a symbolic link {@code link.safetensors} to a valid file
 * outside it ({@code ../outside.safetensors}: x). Invariants: only {@link SafetensorsException}
 * (or an I/O {@link ugm.core.UgmException}) is thrown, and a checkpoint that opens maps no file
 * outside the folder and its index names only Unicode text.
 *
 * <p>Regression inputs: {@code src/test/resources/ugm/io/CheckpointFuzzTestInputs/}.
 *
 * <p>The committed inputs are hand-written seeds ({@code seed-*}) and, from the corpus the fuzzer
 * built, the smallest input for each distinct outcome it reached ({@code found-NNN-<rule>}: one
 * per rule and message shape). No input has ever failed.
 */
class CheckpointFuzzTest {

    private static Path root;

    private static synchronized Path folder() throws IOException {
        if (root == null) {
            Path base = Files.createTempDirectory("ugm-ckpt-fuzz");
            Path f = Files.createDirectories(base.resolve("ckpt"));
            CheckpointTest.writeFile(f.resolve("s1.safetensors"), List.of(t("a"), t("b")));
            CheckpointTest.writeFile(f.resolve("s2.safetensors"), List.of(t("c")));
            CheckpointTest.writeFile(base.resolve("outside.safetensors"), List.of(t("x")));
            Files.createSymbolicLink(f.resolve("link.safetensors"), Path.of("../outside.safetensors"));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    OutputFolder.deleteTree(base);
                } catch (IOException ignored) {
                    // a temporary folder; the system cleans it eventually
                }
            }));
            root = f;
        }
        return root;
    }

    private static TensorInfo t(String name) {
        return new TensorInfo(name, DType.F32, new long[] {2});
    }

    @FuzzTest(maxDuration = "25s")
    @DictionaryEntries({"{\"weight_map\":{", "\"metadata\":{\"total_size\":24}", "\"a\":\"s1.safetensors\"",
            "\"b\":\"s1.safetensors\"", "\"c\":\"s2.safetensors\"", "\"x\":\"link.safetensors\"", "../outside.safetensors",
            "./", "/", "..", "s1.safetensors", "s2.safetensors", "\\u002e\\u002e/", "\\u0000", "sub/../"})
    void open(byte[] index) throws IOException {
        Path f = folder();
        Files.write(f.resolve(Checkpoint.INDEX_FILE), index);
        Path real = f.toRealPath();
        try (Checkpoint c = Checkpoint.open(f)) {
            for (Path p : c.files()) {
                if (!p.toRealPath().startsWith(real)) {
                    throw new AssertionError("opened " + p + ", which is outside " + real);
                }
            }
            for (Map.Entry<String, String> w : Checkpoint.readWeightMap(f.resolve(Checkpoint.INDEX_FILE)).entrySet()) {
                if (JsonText.unpairedSurrogate(w.getKey()) >= 0 || JsonText.unpairedSurrogate(w.getValue()) >= 0) {
                    throw new AssertionError("accepted an index naming " + w + ", which is not Unicode text");
                }
            }
        } catch (SafetensorsException expected) {
            if (expected.getMessage().contains("\n")) {
                throw new AssertionError("message is not one line: " + expected.getMessage());
            }
        } catch (UncheckedIOException e) {
            throw new AssertionError(e);
        }
    }
}
