package ugm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** Files written by other tools (see {@link RealFiles} and realfiles/README.md beside them). */
class RealFilesTest {

    @TempDir
    Path dir;

    static Path real(String name) {
        Path p = RealFiles.path(name);
        assertTrue(Files.isRegularFile(p), "missing real file " + p.toAbsolutePath());
        return p;
    }

    static List<String> names(SafetensorsFile f) {
        return f.entries().stream().map(TensorEntry::name).toList();
    }

    @Test
    void pythonSample() {
        try (SafetensorsFile f = SafetensorsFile.open(real("python-safetensors-sample.safetensors"))) {
            assertEquals(List.of(new TensorInfo("some_ints", DType.I64, new long[] {1, 4}),
                    new TensorInfo("some_floats", DType.F32, new long[] {1, 2, 2})), f.tensors());
            assertTrue(f.metadata().isEmpty());
            MemorySegment ints = f.data("some_ints");
            long[] values = new long[4];
            for (int i = 0; i < 4; i++) {
                values[i] = ints.get(ReferenceVectorsTest.I64, 8L * i);
            }
            assertArrayEquals(new long[] {-1, 0, 1, 2}, values);
            assertEquals(-1f, f.data("some_floats").get(ReferenceVectorsTest.F32, 0));
            assertEquals(2f, f.data("some_floats").get(ReferenceVectorsTest.F32, 12));
        }
    }

    @Test
    void torchWithMetadata() {
        try (SafetensorsFile f = SafetensorsFile.open(real("torch-small-with-metadata.safetensors"))) {
            assertEquals(List.of("fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"), names(f));
            assertEquals(List.of("version", "git_tag"), List.copyOf(f.metadata().keySet()));
            assertEquals("v1.45", f.metadata().get("git_tag"));
            assertArrayEquals(new long[] {20, 10}, f.info("fc1.weight").shape());
            assertArrayEquals(new long[] {10, 20}, f.info("fc2.weight").shape());
            assertEquals(DType.F32, f.info("fc2.bias").dtype());
            assertEquals(320, f.headerLength());
            assertEquals(880, f.entry("fc2.bias").begin());
            assertEquals(800, f.data("fc1.weight").byteSize());
        }
    }

    @Test
    void tinygradMlp() {
        try (SafetensorsFile f = SafetensorsFile.open(real("tinygrad-mnist-mlp.safetensors"))) {
            assertEquals(List.of(new TensorInfo("l1.weight", DType.F32, new long[] {128, 784}),
                    new TensorInfo("l2.weight", DType.F32, new long[] {10, 128})), f.tensors());
            assertEquals(406528, f.header().dataLength());
            float w = f.data("l2.weight").get(ReferenceVectorsTest.F32, 0);
            assertTrue(Float.isFinite(w) && w != 0f, "a trained weight, got " + w);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"python-safetensors-sample.safetensors", "torch-small-with-metadata.safetensors",
            "tinygrad-mnist-mlp.safetensors"})
    void rewrittenByteForByte(String name) throws IOException {
        Path in = real(name);
        Path out = dir.resolve(name);
        try (SafetensorsFile f = SafetensorsFile.open(in);
             SafetensorsWriter w = SafetensorsWriter.create(out, f.tensors().reversed(), f.metadata())) {
            for (TensorInfo t : f.tensors()) {
                w.target(t).copyFrom(f.data(t.name()));
            }
            w.commit();
        }
        assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(out));
    }
}
