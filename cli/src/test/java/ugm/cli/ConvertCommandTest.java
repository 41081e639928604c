package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;
import ugm.io.RealFiles;

class ConvertCommandTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"python-safetensors-sample.safetensors", "torch-small-with-metadata.safetensors",
            "tinygrad-mnist-mlp.safetensors"})
    void convertingWithNothingChangedReproducesAFileOfAnotherWriter(String name) throws IOException {
        Path in = RealFiles.path(name);
        Run r = Run.of("convert", in.toString(), tmp.resolve("out").toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertEquals(-1, Files.mismatch(in, tmp.resolve("out/model.safetensors")), name + " reproduced byte for byte");
    }

    @Test
    void bf16ToF32AndBackIsLosslessShardsAndMetadataKept() throws IOException {
        Path family = tmp.resolve("family");
        assertEquals(0, Run.of("family", family.toString(), "--size", "3MB", "--tasks", "1", "--shard-size", "200kB").code());
        Path model = family.resolve("task-1");
        Run up = Run.of("convert", model.toString(), tmp.resolve("f32").toString(), "--dtype", "f32");
        assertEquals(0, up.code(), up::toString);
        assertTrue(up.errLine().startsWith("ugm: converted ") && up.errLine().contains("GB/s"), up.err());
        try (Checkpoint a = Checkpoint.open(model); Checkpoint b = Checkpoint.open(tmp.resolve("f32"))) {
            assertEquals(a.files().size(), b.files().size(), "one output shard per input shard");
            assertEquals(a.metadata(), b.metadata());
            for (TensorInfo t : a.tensors()) {
                assertEquals(t.dtype() == DType.BF16 ? DType.F32 : t.dtype(), b.info(t.name()).dtype());
                if (t.dtype() == DType.BF16) {
                    for (long i = 0; i < t.elementCount(); i += 3) {
                        assertEquals(MergeCommandTest.bf16(a.data(t.name()), i),
                                b.data(t.name()).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i), t.name());
                    }
                }
            }
        }
        assertTrue(Files.readString(tmp.resolve("f32/config.json")).contains("float32"));
        Run down = Run.of("convert", tmp.resolve("f32").toString(), tmp.resolve("bf16").toString(), "--dtype", "bf16", "--quiet");
        assertEquals(0, down.code(), down::toString);
        // Every shard and the index byte for byte; config.json is rewritten (torch_dtype), not copied.
        TreeMap<String, byte[]> original = ConfigMergeTest.files(model, "hessian", "config.json");
        assertTrue(original.size() > 3, original.keySet()::toString);
        ConfigMergeTest.assertSameFiles(original, ConfigMergeTest.files(tmp.resolve("bf16"), "config.json"));
        assertTrue(Files.readString(tmp.resolve("bf16/config.json")).contains("\"bfloat16\""));
    }

    @Test
    void shardSizeReshardsWithTheSameTensorBytes() throws IOException {
        Path family = tmp.resolve("family");
        assertEquals(0, Run.of("family", family.toString(), "--size", "3MB", "--tasks", "1").code());
        Path model = family.resolve("base");
        Run r = Run.of("convert", model.toString(), tmp.resolve("sharded").toString(), "--shard-size", "100kB", "--quiet");
        assertEquals(0, r.code(), r::toString);
        try (Checkpoint a = Checkpoint.open(model); Checkpoint b = Checkpoint.open(tmp.resolve("sharded"))) {
            assertEquals(1, a.files().size());
            assertTrue(b.files().size() > 3, "shards: " + b.files().size());
            for (TensorInfo t : a.tensors()) {
                assertEquals(-1, a.data(t.name()).mismatch(b.data(t.name())), t.name());
            }
        }
        Run back = Run.of("convert", tmp.resolve("sharded").toString(), tmp.resolve("one").toString(), "--shard-size", "5GB", "--quiet");
        assertEquals(0, back.code(), back::toString);
        assertEquals(-1, Files.mismatch(model.resolve("model.safetensors"), tmp.resolve("one/model.safetensors")));
    }

    @Test
    void aNonEmptyOutputIsRefused() throws IOException {
        Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(tmp.resolve("busy/x"), "x");
        Run r = Run.of("convert", RealFiles.path("tinygrad-mnist-mlp.safetensors").toString(), tmp.resolve("busy").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("--force"), r.err());
        assertFalse(Files.exists(tmp.resolve("busy/model.safetensors")));
    }

    /** F32 values beyond F16's range become infinities, counted in one warning line for the tensor. */
    @Test
    void valuesBeyondTheNewDtypeAreCountedInAWarning() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
        while (header.length() % 8 != 0) {
            header += " ";
        }
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(1e5f).putFloat(-2f).putFloat(-7e4f);
        Path in = tmp.resolve("big.safetensors");
        Files.write(in, b.array());
        Run r = Run.of("convert", in.toString(), tmp.resolve("f16").toString(), "--dtype", "f16");
        assertEquals(0, r.code(), r::toString);
        String warning = r.err().lines().filter(l -> l.startsWith("ugm: warning: ")).findFirst().orElse("");
        assertTrue(warning.contains("'w'") && warning.contains("2 values beyond the F16 range"), r.err());
    }
}
