package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;

/**
 * PyTorch checkpoints (torch.save files) as inputs of inspect, validate, convert and merge. The
 * fixtures are io's (written by io/src/test/resources/torch/make_fixtures.py with PyTorch 1.13).
 */
class TorchInputsTest {
    static final Path FIXTURES = Path.of("../io/src/test/resources/torch").toAbsolutePath().normalize();
    static final Path TINY = FIXTURES.resolve("tiny");
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

    static float[] floats(MemorySegment s) {
        float[] f = new float[(int) (s.byteSize() / 4)];
        for (int i = 0; i < f.length; i++) {
            f[i] = s.get(F32, 4L * i);
        }
        return f;
    }

    /** make_fixtures.py: embed.weight = arange(12) * 0.5 - 1, lm_head.weight tied to it. */
    static float[] embed() {
        float[] f = new float[12];
        for (int i = 0; i < 12; i++) {
            f[i] = i * 0.5f - 1f;
        }
        return f;
    }

    static Path copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName().toString()));
            }
        }
        return to;
    }

    @Test
    void inspectSaysTheFormatAndTheTiedWeights() {
        Run r = Run.of("inspect", TINY.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("format: pytorch"), r.out());
        assertTrue(r.out().contains("shared storage (tied): embed.weight = lm_head.weight"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("lm_head.weight ") && l.contains("[4, 3]") && l.contains("48")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("I64") && l.contains(" 1 tensors")), r.out());
        Run j = Run.of("inspect", "--json", TINY.toString());
        assertTrue(j.out().contains("\"format\" : \"pytorch\""), j.out());
        Run file = Run.of("inspect", FIXTURES.resolve("torch2_layout.pt").toString());
        assertEquals(0, file.code(), file::toString);
        assertTrue(file.out().contains("format: pytorch"), file.out());
    }

    @Test
    void validateAcceptsPyTorchFilesAndRefusesHostileOnesWithOneLine() {
        for (Path ok : List.of(TINY, FIXTURES.resolve("sharded"), FIXTURES.resolve("torch2_layout.pt"), FIXTURES.resolve("torch2_v3.pt"),
                FIXTURES.resolve("sharded/pytorch_model.bin.index.json"))) {
            Run r = Run.of("validate", ok.toString());
            assertEquals(0, r.code(), r::toString);
            assertTrue(r.out().startsWith("OK "), r.out());
        }
        Object[][] bad = {
            {"bad/os_system.pt", "refused global 'posix.system'"},
            {"bad/eval.pt", "refused global 'builtins.eval'"},
            {"bad/compressed.pt", "compressed"},
            {"bad/transposed.pt", "tensor 'transposed'"},
            {"bad/legacy.pt", "legacy format"},
            {"bad/big_endian.pt", "big-endian"},
        };
        for (Object[] b : bad) {
            Path f = FIXTURES.resolve((String) b[0]);
            Run r = Run.of("validate", f.toString());
            assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
            assertTrue(r.errLine().startsWith("ugm: ") && r.errLine().contains(f.toString()) && r.errLine().contains((String) b[1]), r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace without --verbose");
            assertEquals("", r.out());
        }
    }

    @Test
    void convertWritesSafetensorsWithBothTiedNamesAndLeavesTheInputAlone() throws IOException {
        Path in = copyTree(TINY, tmp.resolve("tiny"));
        byte[] before = Files.readAllBytes(in.resolve("pytorch_model.bin"));
        Path out = tmp.resolve("out");
        Run r = Run.of("convert", in.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        assertArrayEquals(before, Files.readAllBytes(in.resolve("pytorch_model.bin")));
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        assertFalse(Files.exists(out.resolve("pytorch_model.bin")), "the weights are converted, not copied");
        assertTrue(Files.readString(out.resolve("config.json")).contains("tie_word_embeddings"));
        try (Checkpoint a = Checkpoint.open(in); Checkpoint b = Checkpoint.open(out)) {
            assertEquals(Checkpoint.SAFETENSORS, b.format());
            assertEquals(Map.of("format", "pt"), b.metadata(), "as save_pretrained writes it");
            assertEquals(a.tensors().size(), b.tensors().size());
            for (TensorInfo t : a.tensors()) {
                assertEquals(t, b.info(t.name()));
                assertEquals(-1, a.data(t.name()).mismatch(b.data(t.name())), t.name());
            }
            assertArrayEquals(embed(), floats(b.data("embed.weight")));
            assertArrayEquals(embed(), floats(b.data("lm_head.weight")));
        }
        Run bf = Run.of("convert", FIXTURES.resolve("sharded").toString(), tmp.resolve("bf16").toString(), "--dtype", "bf16", "--quiet");
        assertEquals(0, bf.code(), bf::toString);
        try (Checkpoint c = Checkpoint.open(tmp.resolve("bf16"))) {
            assertEquals(2, c.files().size(), "one output shard per input shard");
            assertEquals(DType.BF16, c.info("proj.bias").dtype());
        }
    }

    @Test
    void mergeReadsPyTorchModelsBesideSafetensorsOnes() throws IOException {
        Path st = tmp.resolve("st");
        assertEquals(0, Run.of("convert", TINY.toString(), st.toString(), "--quiet").code());
        Path out = tmp.resolve("merged");
        Run r = Run.of("merge", "--method", "task_arithmetic", "--base", TINY.toString(), "--model", st.toString(),
                "--model", FIXTURES.resolve("torch2_layout.pt").toString(), "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        try (Checkpoint m = Checkpoint.open(out)) {
            assertArrayEquals(embed(), floats(m.data("embed.weight")));
            assertArrayEquals(embed(), floats(m.data("lm_head.weight")));
            assertArrayEquals(new float[] {-2f, 2f}, floats(m.data("proj.bias")));
        }
        assertTrue(Files.isRegularFile(out.resolve("config.json")), "the base's other files are copied");

        Path hostile = tmp.resolve("hostile");
        Run h = Run.of("merge", "--method", "linear", "--model", TINY.toString(), "--model", FIXTURES.resolve("bad/os_system.pt").toString(),
                "--out", hostile.toString(), "--quiet");
        assertEquals(ExitCodes.INVALID_INPUT, h.code(), h::toString);
        assertTrue(h.errLine().contains("posix.system"), h.err());
        assertFalse(Files.exists(hostile), "no output");
    }

    @Test
    void safetensorsWinsWhenAFolderHasBoth() throws IOException {
        Path both = copyTree(TINY, tmp.resolve("both"));
        Path st = tmp.resolve("st");
        assertEquals(0, Run.of("convert", FIXTURES.resolve("sharded/pytorch_model-00002-of-00002.bin").toString(), st.toString(), "--quiet").code());
        Files.copy(st.resolve("model.safetensors"), both.resolve("model.safetensors"));
        try (Checkpoint c = Checkpoint.open(both)) {
            assertEquals(Checkpoint.SAFETENSORS, c.format());
            assertEquals(List.of("norm.bias", "norm.weight", "proj.bias"), c.tensors().stream().map(TensorInfo::name).sorted().toList());
        }
        Run r = Run.of("inspect", both.toString());
        assertTrue(r.out().contains("format: safetensors"), r.out());
    }
}
