package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.merge.Reference;
import ugm.core.merge.methods.Method;
import ugm.io.Checkpoint;

class MergeCommandTest {
    @TempDir
    static Path tmp;
    static Path family;

    @BeforeAll
    static void writeFamily() {
        family = tmp.resolve("family");
        // Small shards so that input shard boundaries differ from the output's.
        Run r = Run.of("family", family.toString(), "--size", "6MB", "--tasks", "3", "--shard-size", "300kB");
        assertEquals(0, r.code(), r::toString);
    }

    static List<String> mergeArgs(Method m, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("merge", "--method", m.id(), "--base", family.resolve("base").toString(),
                "--out", out.toString(), "--quiet"));
        for (int t = 1; t <= 3; t++) {
            a.add("--model");
            a.add(family.resolve("task-" + t).toString());
        }
        a.addAll(List.of(extra));
        return a;
    }

    static double bf16(MemorySegment s, long i) {
        return Float.intBitsToFloat((s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xFFFF) << 16);
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"LINEAR", "TASK_ARITHMETIC", "FISHER", "FISHER_WITH_BASE", "GRADIENT_MATCHING"}) // the element-wise kernels; the others: TaskVectorMethodsTest
    void everyMethodAgreesWithADoublePrecisionEvaluationWithinOneBf16Ulp(Method m) throws IOException {
        Path out = tmp.resolve("out-" + m.id());
        String[] params = {"--weight", "0.5", "--weight", "1", "--weight", "0.75", "--lambda", "0.9", "--delta0", "1e-6",
                "--fisher-scale", "1", "--fisher-scale", "3", "--fisher-scale", "2", "--base-fisher-scale", "2",
                "--shard-size", "400kB"};
        List<String> args = mergeArgs(m, out, params);
        Run r = Run.of(args.toArray(String[]::new));
        assertEquals(0, r.code(), r::toString);
        double[] w = {0.5, 1, 0.75};
        Reference.Params p = new Reference.Params(w, 0.9, new double[] {1, 3, 2}, 2, 1e-6, false, 0.1, true, true);
        long checked = 0;
        try (Checkpoint merged = Checkpoint.open(out); Checkpoint base = Checkpoint.open(family.resolve("base"));
             Checkpoint h0 = Checkpoint.open(family.resolve("base/hessian"))) {
            assertTrue(merged.files().size() > 1, "expected a sharded output");
            List<Checkpoint> models = new ArrayList<>();
            List<Checkpoint> fishers = new ArrayList<>();
            for (int t = 1; t <= 3; t++) {
                models.add(Checkpoint.open(family.resolve("task-" + t)));
                fishers.add(Checkpoint.open(family.resolve("task-" + t + "/hessian")));
            }
            assertEquals(base.tensors().stream().map(TensorInfo::name).sorted().toList(),
                    merged.tensors().stream().map(TensorInfo::name).sorted().toList());
            for (TensorInfo t : base.tensors()) {
                MemorySegment got = merged.data(t.name());
                if (t.dtype() != DType.BF16) {
                    assertEquals(-1, got.mismatch(base.data(t.name())), "integer tensor copied: " + t.name());
                    continue;
                }
                assertEquals(DType.BF16, merged.info(t.name()).dtype());
                for (long i = 0; i < t.elementCount(); i++) {
                    double[] x = new double[3];
                    double[] h = new double[3];
                    double scale = 0;
                    for (int k = 0; k < 3; k++) {
                        x[k] = bf16(models.get(k).data(t.name()), i);
                        h[k] = bf16(fishers.get(k).data(t.name()), i);
                        scale += Math.abs(x[k]);
                    }
                    double b = bf16(base.data(t.name()), i);
                    double e = Reference.value(m, p, b, bf16(h0.data(t.name()), i), x, h, new long[1]);
                    double g = bf16(got, i);
                    double ulp = Math.ulp((float) e) * 65536.0;
                    assertTrue(Math.abs(g - e) <= ulp || Math.abs(g - e) <= 1e-6 * (scale + Math.abs(b)),
                            m + " " + t.name() + "[" + i + "]: " + g + " vs " + e);
                    checked++;
                }
            }
            models.forEach(Checkpoint::close);
            fishers.forEach(Checkpoint::close);
        }
        assertTrue(checked > 300_000, "checked " + checked);
        assertTrue(Files.exists(out.resolve("config.json")));
    }

    @Test
    void outDtypeRewritesTorchDtypeAndKeepsTheOtherFiles() throws IOException {
        Path out = tmp.resolve("out-f32");
        Run r = Run.of(mergeArgs(Method.TASK_ARITHMETIC, out, "--out-dtype", "f32").toArray(String[]::new));
        assertEquals(0, r.code(), r::toString);
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"torch_dtype\" : \"float32\""));
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(DType.F32, c.info("model.norm.weight").dtype());
            assertEquals(DType.I64, c.info("model.position_ids").dtype());
            assertEquals("task_arithmetic", c.metadata().get("merge_method"));
            assertEquals("pt", c.metadata().get("format"));
        }
    }

    @Test
    void aNonEmptyOutputFolderIsRefusedWithoutForceAndLeftUntouched() throws IOException {
        Path out = tmp.resolve("occupied");
        Files.createDirectories(out);
        Files.writeString(out.resolve("precious.txt"), "keep me");
        Run r = Run.of(mergeArgs(Method.LINEAR, out).toArray(String[]::new));
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains(out.toString()) && r.errLine().contains("--force"), r.err());
        assertEquals("keep me", Files.readString(out.resolve("precious.txt")));
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(1, s.count());
        }
        Run forced = Run.of(mergeArgs(Method.LINEAR, out, "--force").toArray(String[]::new));
        assertEquals(0, forced.code(), forced::toString);
        assertFalse(Files.exists(out.resolve("precious.txt")));
        assertTrue(Files.exists(out.resolve("model.safetensors")));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".ugm-")), "no temporaries left");
        }
    }

    @Test
    void aFailedMergeLeavesNoOutputAndNoTemporary() throws IOException {
        Path out = tmp.resolve("never");
        // Pairs task-1 with task-2's Fisher folder missing: give a file that is not a checkpoint.
        Path bogus = tmp.resolve("bogus.safetensors");
        Files.writeString(bogus, "not a safetensors file");
        Run r = Run.of(mergeArgs(Method.GRADIENT_MATCHING, out, "--fisher", bogus.toString(), "--fisher", bogus.toString(),
                "--fisher", bogus.toString()).toArray(String[]::new));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("bogus.safetensors"), r.err());
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".never")), "no temporaries left");
        }
    }

    @Test
    void userErrorsGetOneLineAndTheirExitCode() {
        Path out = tmp.resolve("errors");
        Run unknown = Run.of("merge", "--method", "magic", "--model", "x", "--out", out.toString());
        assertEquals(ExitCodes.USAGE, unknown.code(), unknown::toString);
        assertTrue(unknown.err().contains("unknown method 'magic'"), unknown.err());

        Run missing = Run.of(mergeArgs(Method.TASK_ARITHMETIC, out, "--model", tmp.resolve("nope").toString()).toArray(String[]::new));
        assertEquals(ExitCodes.INVALID_INPUT, missing.code(), missing::toString);
        assertTrue(missing.errLine().contains("nope"), missing.err());

        Run noFisher = Run.of("merge", "--method", "gradient_matching", "--base", family.resolve("base").toString(),
                "--model", family.resolve("base").toString(), "--fisher", family.resolve("base").toString(),
                "--model", family.resolve("task-1/hessian").toString(), "--out", out.toString());
        assertEquals(ExitCodes.USAGE, noFisher.code(), noFisher::toString);
        assertFalse(Files.exists(out));
    }

    @Test
    void helpListsEveryMethodWithItsSummary() {
        Run h = Run.of("merge", "--help");
        assertEquals(0, h.code(), h::toString);
        String flat = h.out().replaceAll("\\s+", " ");
        for (ugm.core.merge.methods.Method m : ugm.core.merge.methods.Method.values()) {
            assertTrue(flat.contains(" " + m.id() + " " + m.summary().replaceAll("\\s+", " ")), m.id() + " missing from:\n" + h.out());
        }
    }
}
