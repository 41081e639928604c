package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.Checkpoint;

/**
 * {@code ugm fisher} on optimizer states saved by training runs (io/src/test/resources/fisher,
 * written by its make_fixtures.py with PyTorch 1.13). Every expected value was computed by that
 * script from the live optimizer, in float64, with the names it knew from the live model:
 * {@code exp_avg_sq / (1 - beta2^step)} for Adam, the cut {@code hess} for IVON.
 */
class FisherCommandTest {
    static final Path FIXTURES = Path.of("../io/src/test/resources/fisher").toAbsolutePath().normalize();
    static final Path TORCH_FIXTURES = Path.of("../io/src/test/resources/torch").toAbsolutePath().normalize();
    static final Path LLAMA_A = FIXTURES.resolve("llama/task-a/checkpoint-6");

    @TempDir
    Path tmp;

    // ---- reading checkpoints independently of the command -------------------------------------------

    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Every floating tensor of a checkpoint as doubles, with its dtype and shape. */
    record Tensor(DType dtype, long[] shape, double[] values) {
    }

    static Map<String, Tensor> read(Path checkpoint) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            for (TensorInfo t : c.tensors()) {
                if (!t.dtype().isMergeable()) {
                    continue;
                }
                MemorySegment s = c.data(t.name());
                double[] v = new double[(int) t.elementCount()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = switch (t.dtype()) {
                        case F32 -> s.get(F32, 4L * i);
                        case F64 -> s.get(F64, 8L * i);
                        case BF16 -> Float.intBitsToFloat(s.get(I16, 2L * i) << 16);
                        case F16 -> Float.float16ToFloat(s.get(I16, 2L * i));
                        default -> throw new AssertionError(t);
                    };
                }
                out.put(t.name(), new Tensor(t.dtype(), t.shape(), v));
            }
        }
        return out;
    }

    static Map<String, String> metadata(Path checkpoint) {
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            return c.metadata();
        }
    }

    /** One unit in the last place of {@code x} in {@code dtype}: the rounding the output may add. */
    static double ulp(DType dtype, double x) {
        return switch (dtype) {
            case F64 -> Math.ulp(x) * 4;
            case F32 -> Math.ulp((float) x);
            case BF16 -> Math.ulp((float) x) * 65536;
            case F16 -> {
                short h = Float.floatToFloat16((float) x);
                yield Math.abs(Float.float16ToFloat((short) (h + 1)) - Float.float16ToFloat(h));
            }
            default -> throw new AssertionError(dtype);
        };
    }

    /** The output has exactly {@code names}, shaped as expected, each value within rounding of the expected one. */
    static void assertMatches(Map<String, Tensor> expected, Map<String, Tensor> got, Set<String> names, DType dtype) {
        assertEquals(new TreeSet<>(names), new TreeSet<>(got.keySet()));
        for (String n : names) {
            Tensor e = expected.get(n);
            Tensor g = got.get(n);
            assertEquals(dtype, g.dtype(), n);
            assertEquals(List.of(box(e.shape())), List.of(box(g.shape())), n);
            for (int i = 0; i < e.values().length; i++) {
                double x = e.values()[i];
                assertTrue(Math.abs(g.values()[i] - x) <= ulp(dtype, x), n + "[" + i + "]: expected " + x + ", got " + g.values()[i]);
            }
        }
    }

    private static Long[] box(long[] s) {
        Long[] b = new Long[s.length];
        for (int i = 0; i < s.length; i++) {
            b[i] = s[i];
        }
        return b;
    }

    static Set<String> floatingNames(Path model) {
        return read(model).keySet();
    }

    static Path copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path d = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(d);
                } else {
                    Files.copy(p, d);
                }
            }
        }
        return to;
    }

    // ---- Adam / AdamW from Trainer checkpoints ---------------------------------------------------------

    @Test
    void llamaTrainerCheckpointGivesTheBiasCorrectedSecondMoment() {
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", LLAMA_A.toString(), out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("parameter order: rebuilt for llama (config.json) from the tensor names;"
                + " Trainer groups (16 with weight decay, 5 without)"), r.out());
        assertTrue(r.out().contains("step 6, beta2 0.98:"), r.out());
        assertTrue(r.out().contains("examples: 12 (trainer_state.json: global_step 6 x batch 4 (train_batch_size) / epoch 2)"), r.out());
        assertMatches(read(FIXTURES.resolve("llama/task-a/expected_fisher.safetensors")), read(out), floatingNames(LLAMA_A), DType.F32);
        Map<String, String> m = metadata(out);
        assertEquals("adam_exp_avg_sq", m.get("ugm_fisher_source"));
        assertEquals("6", m.get("ugm_fisher_step"));
        assertEquals("0.98", m.get("ugm_fisher_beta2"));
        assertEquals("12", m.get("ugm_fisher_examples"));
        assertEquals("4", m.get("ugm_fisher_batch"));
        assertEquals(LLAMA_A.resolve("optimizer.pt").toString(), m.get("ugm_fisher_from"));
        assertEquals("pt", m.get("format"));
    }

    @Test
    void aShardedModelIsReadThroughItsIndex() throws IOException {
        Path ck = tmp.resolve("checkpoint-6");
        Run convert = Run.of("convert", LLAMA_A.toString(), ck.toString(), "--shard-size", "2kB", "--quiet");
        assertEquals(0, convert.code(), convert::toString);
        assertTrue(Files.exists(ck.resolve("model.safetensors.index.json")));
        for (String f : List.of("optimizer.pt", "trainer_state.json")) {
            Files.copy(LLAMA_A.resolve(f), ck.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("(model-00001-of-"), r.out());
        assertMatches(read(FIXTURES.resolve("llama/task-a/expected_fisher.safetensors")), read(out), floatingNames(LLAMA_A), DType.F32);
    }

    @Test
    void qwen2WithQkvBiasesAndTiedEmbeddings() {
        Path ck = FIXTURES.resolve("qwen2/checkpoint-4");
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("Trainer groups (8 with weight decay, 6 without)"), r.out());
        Set<String> names = floatingNames(ck);
        assertFalse(names.contains("lm_head.weight"), "save_pretrained leaves the tied head out");
        assertTrue(names.contains("model.layers.0.self_attn.q_proj.bias"));
        assertMatches(read(FIXTURES.resolve("qwen2/expected_fisher.safetensors")), read(out), names, DType.F32);
        assertEquals("4", metadata(out).get("ugm_fisher_examples"));
    }

    @Test
    void anOptimizerStateKeyedByNamesNeedsNoOrder() {
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", FIXTURES.resolve("fsdp/optimizer.pt").toString(), out.toString(), "--model", LLAMA_A.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("21 parameters with state, keyed by names"), r.out());
        assertFalse(r.out().contains("parameter order:"), r.out());
        assertMatches(read(FIXTURES.resolve("llama/task-a/expected_fisher.safetensors")), read(out), floatingNames(LLAMA_A), DType.F32);
    }

    /** An untied head without state gets zeros, never the input embedding's Fisher, even where config.json says tied. */
    @Test
    void anUntiedHeadWithoutStateIsNotTakenForATiedOne() throws IOException {
        Path model = llamaCopy();
        Files.writeString(model.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true"));
        Checkpoints state = new Checkpoints();
        try (Checkpoint c = Checkpoint.open(model)) {
            for (TensorInfo t : c.tensors()) {
                if (!t.name().equals("lm_head.weight")) {
                    float[] v = new float[(int) t.elementCount()];
                    java.util.Arrays.fill(v, 0.25f);
                    state.put(t.name(), t.shape(), v);
                }
            }
        }
        Path file = state.write(tmp.resolve("state")).resolve("model.safetensors");
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", file.toString(), out.toString(), "--model", model.toString(), "--no-bias-correction", "--allow-missing");
        assertEquals(0, r.code(), r::toString);
        assertFalse(r.out().contains("tied"), r.out());
        assertTrue(r.out().contains("without optimizer state, written as zeros (--allow-missing): 1: lm_head.weight"), r.out());
        double[] head = read(out).get("lm_head.weight").values();
        assertTrue(java.util.Arrays.stream(head).allMatch(x -> x == 0), "zeros");
        assertTrue(java.util.Arrays.stream(read(out).get("model.embed_tokens.weight").values()).allMatch(x -> x == 0.25));
    }

    @Test
    void theOutputDtypeRoundsOnce() {
        Map<String, Tensor> expected = read(FIXTURES.resolve("llama/task-a/expected_fisher.safetensors"));
        for (DType d : List.of(DType.F64, DType.BF16, DType.F16)) {
            Path out = tmp.resolve("fisher-" + d);
            Run r = Run.of("fisher", LLAMA_A.toString(), out.toString(), "--dtype", d.name().toLowerCase());
            assertEquals(0, r.code(), r::toString);
            assertMatches(expected, read(out), floatingNames(LLAMA_A), d);
            if (d == DType.F16) {
                assertTrue(r.err().contains("ugm: warning: F16 holds nothing below 6e-8"), r.err());
            }
        }
    }

    /** A model of no known family saved as pytorch_model.bin: the pickled state dict gives the order. */
    @Test
    void aParameterWithoutStateStopsTheRunUnlessAllowed() {
        Path ck = FIXTURES.resolve("custom/checkpoint-2");
        Path out = tmp.resolve("fisher");
        Run refused = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(3, refused.code(), refused::toString);
        assertEquals("ugm: " + ck.resolve("optimizer.pt") + ": parameter 'unused.weight': has no optimizer state (nor 1 more:"
                + " unused.bias): frozen, or it never had a gradient; --allow-missing writes zeros for such parameters", refused.errLine());
        assertFalse(Files.exists(out));

        Run r = Run.of("fisher", ck.toString(), out.toString(), "--allow-missing");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("parameter order: the order of the state dict pickled in pytorch_model.bin; Trainer groups"
                + " (4 with weight decay, 7 without, tied alpha.weight left out)"), r.out());
        assertTrue(r.out().contains("tied (one parameter, its Fisher under both names): alpha.weight = zeta.weight"), r.out());
        Map<String, Tensor> expected = new LinkedHashMap<>(read(FIXTURES.resolve("custom/expected_fisher.safetensors")));
        Tensor zeta = expected.get("zeta.weight");
        expected.put("alpha.weight", zeta);
        expected.put("unused.weight", new Tensor(DType.F64, new long[] {3, 6}, new double[18]));
        expected.put("unused.bias", new Tensor(DType.F64, new long[] {3}, new double[3]));
        Map<String, Tensor> got = read(out);
        assertFalse(got.containsKey("position_ids"), "an int64 buffer has no Fisher");
        assertMatches(expected, got, expected.keySet(), DType.F32);
        assertEquals("2: unused.weight, unused.bias", metadata(out).get("ugm_fisher_zeros"));
    }

    /** The same model as safetensors: no family, no pickled order, so the order must be given. */
    @Test
    void anOrderThatCannotBeRebuiltIsAskedFor() throws IOException {
        Path custom = FIXTURES.resolve("custom/checkpoint-2");
        Path model = tmp.resolve("model");
        assertEquals(0, Run.of("convert", custom.toString(), model.toString(), "--quiet").code());
        Path ck = Files.createDirectories(tmp.resolve("checkpoint-2"));
        for (String f : List.of("optimizer.pt", "trainer_state.json", "config.json")) {
            Files.copy(custom.resolve(f), ck.resolve(f));
        }
        Path out = tmp.resolve("fisher");
        Run refused = Run.of("fisher", ck.toString(), out.toString(), "--model", model.toString(), "--allow-missing");
        assertEquals(3, refused.code(), refused::toString);
        assertTrue(refused.errLine().contains("optimizer.pt: its state is keyed by ids, and the parameter order of model_type 'ugm-tiny'"
                + " is not one ugm rebuilds (llama, mistral, qwen2, gemma, gpt2, bert, roberta); give the order with --param-order FILE"),
                refused.err());
        assertFalse(Files.exists(out));

        Map<String, Tensor> expected = new LinkedHashMap<>(read(FIXTURES.resolve("custom/expected_fisher.safetensors")));
        expected.put("unused.weight", new Tensor(DType.F64, new long[] {3, 6}, new double[18]));
        expected.put("unused.bias", new Tensor(DType.F64, new long[] {3}, new double[3]));
        // A state dict as the order carries the tie too.
        Run bin = Run.of("fisher", ck.toString(), out.toString(), "--model", model.toString(), "--allow-missing",
                "--param-order", custom.resolve("pytorch_model.bin").toString());
        assertEquals(0, bin.code(), bin::toString);
        Map<String, Tensor> withTie = new LinkedHashMap<>(expected);
        withTie.put("alpha.weight", expected.get("zeta.weight"));
        assertMatches(withTie, read(out), withTie.keySet(), DType.F32);
        // A list of names carries no tie: alpha.weight has no state of its own and gets zeros.
        Path out2 = tmp.resolve("fisher2");
        Run names = Run.of("fisher", ck.toString(), out2.toString(), "--model", model.toString(), "--allow-missing",
                "--param-order", FIXTURES.resolve("custom/param_order.txt").toString());
        assertEquals(0, names.code(), names::toString);
        Map<String, Tensor> untied = new LinkedHashMap<>(expected);
        untied.put("alpha.weight", new Tensor(DType.F64, new long[] {10, 6}, new double[60]));
        assertMatches(untied, read(out2), untied.keySet(), DType.F32);
        assertTrue(names.out().contains("parameter order: the order in " + FIXTURES.resolve("custom/param_order.txt")), names.out());
    }

    @Test
    void ivonHessIsCutBackIntoItsParameters() {
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", FIXTURES.resolve("ivon/run").toString(), out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("one group of all 12 parameters; each group's hess has its parameters' element count"), r.out());
        assertMatches(read(FIXTURES.resolve("ivon/expected_fisher.safetensors")), read(out), floatingNames(FIXTURES.resolve("ivon/run")),
                DType.F32);
        Map<String, String> m = metadata(out);
        assertEquals("ivon_hess", m.get("ugm_fisher_source"));
        assertEquals("5000", m.get("ugm_fisher_ess"));
        assertEquals("5000", m.get("ugm_fisher_examples"));
        assertEquals("0.99999", m.get("ugm_fisher_beta2"));
    }

    @Test
    void deepSpeedUniversalCheckpointIsReadByName() throws IOException {
        Path universal = FIXTURES.resolve("deepspeed/checkpoint-5/global_step5_universal");
        Map<String, Tensor> expected = read(FIXTURES.resolve("deepspeed/expected_fisher.safetensors"));
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", universal.toString(), out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("step 5, beta2 0.95:"), r.out());
        assertMatches(expected, read(out), floatingNames(FIXTURES.resolve("deepspeed/checkpoint-5")), DType.F32);
        assertEquals("deepspeed_universal_exp_avg_sq", metadata(out).get("ugm_fisher_source"));

        // DeepSpeed's own optimizer_state.pt pickles a loss-scaler object: refused, so beta2 must be given.
        Path copy = copyTree(universal, tmp.resolve("universal"));
        Files.copy(FIXTURES.resolve("deepspeed/bad/optimizer_state.pt"), copy.resolve("zero/optimizer_state.pt"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path model = FIXTURES.resolve("deepspeed/checkpoint-5");
        Path out2 = tmp.resolve("fisher2");
        Run refused = Run.of("fisher", copy.toString(), out2.toString(), "--model", model.toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.errLine().contains("gives no beta2 for the bias correction (")
                && refused.errLine().contains("deepspeed.runtime.fp16.loss_scaler.LossScaler")
                && refused.errLine().endsWith("give --beta2 B, or --no-bias-correction"), refused.err());
        Run given = Run.of("fisher", copy.toString(), out2.toString(), "--model", model.toString(), "--beta2", "0.95");
        assertEquals(0, given.code(), given::toString);
        assertMatches(expected, read(out2), expected.keySet(), DType.F32);
    }

    @Test
    void aReadyExpAvgSqNeedsItsStepAndBeta2() {
        Path export = FIXTURES.resolve("exp_avg_sq/export");
        Path model = FIXTURES.resolve("exp_avg_sq/model");
        Path out = tmp.resolve("fisher");
        Run missing = Run.of("fisher", export.toString(), out.toString());
        assertEquals(2, missing.code(), missing::toString);
        assertTrue(missing.errLine().endsWith("give --step N and --beta2 B, or --no-bias-correction"), missing.err());
        Run r = Run.of("fisher", export.toString(), out.toString(), "--model", model.toString(), "--step", "7", "--beta2", "0.999");
        assertEquals(0, r.code(), r::toString);
        assertMatches(read(FIXTURES.resolve("exp_avg_sq/expected_fisher.safetensors")), read(out), floatingNames(model), DType.F32);
        Path raw = tmp.resolve("raw");
        Run asStored = Run.of("fisher", export.resolve("exp_avg_sq.safetensors").toString(), raw.toString(), "--no-bias-correction");
        assertEquals(0, asStored.code(), asStored::toString);
        Map<String, Tensor> stored = read(export.resolve("exp_avg_sq.safetensors"));
        assertMatches(stored, read(raw), stored.keySet(), DType.F32);
        assertEquals("exp_avg_sq", metadata(raw).get("ugm_fisher_formula"));
        Run conflicting = Run.of("fisher", LLAMA_A.toString(), tmp.resolve("x").toString(), "--step", "5");
        assertEquals(2, conflicting.code(), conflicting::toString);
        assertTrue(conflicting.errLine().contains("records step 6, but --step says 5"), conflicting.err());
    }

    // ---- bad input: one line, the right exit code, nothing written ------------------------------------

    private Path llamaCopy() throws IOException {
        return copyTree(LLAMA_A, tmp.resolve("checkpoint-6"));
    }

    @Test
    void aHostileOptimizerPickleIsRefusedBeforeAnythingRuns() throws IOException {
        Path ck = llamaCopy();
        Files.copy(TORCH_FIXTURES.resolve("bad/os_system.pt"), ck.resolve("optimizer.pt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.errLine().startsWith("ugm: " + ck.resolve("optimizer.pt")) && r.errLine().contains("posix.system"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aTruncatedOptimizerStateIsOneLine() throws IOException {
        Path ck = llamaCopy();
        Path opt = ck.resolve("optimizer.pt");
        try (FileChannel c = FileChannel.open(opt, StandardOpenOption.WRITE)) {
            c.truncate(c.size() / 2);
        }
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.errLine().startsWith("ugm: " + opt), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aStateThatDoesNotFitTheModelIsRefused() throws IOException {
        // Qwen2's weights beside Llama's optimizer: no grouping of the model fits the state.
        Path ck = llamaCopy();
        Files.copy(FIXTURES.resolve("qwen2/checkpoint-4/model.safetensors"), ck.resolve("model.safetensors"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path out = tmp.resolve("fisher");
        Run r = Run.of("fisher", ck.toString(), out.toString());
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.errLine().startsWith("ugm: " + ck.resolve("optimizer.pt") + ": its state is keyed by ids, and rebuilt for llama")
                && r.errLine().contains("does not fit it: ") && r.errLine().contains("--param-order FILE"), r.err());
        assertFalse(Files.exists(out));

        // A state keyed by names whose tensor has another shape than the model's.
        Path file = new Checkpoints().put("model.norm.weight", new long[] {2, 4}, 1, 2, 3, 4, 5, 6, 7, 8).write(tmp.resolve("state"));
        Run shape = Run.of("fisher", file.resolve("model.safetensors").toString(), out.toString(), "--model", LLAMA_A.toString(),
                "--no-bias-correction");
        assertEquals(3, shape.code(), shape::toString);
        assertEquals("ugm: " + file.resolve("model.safetensors") + ": parameter 'model.norm.weight': exp_avg_sq has shape [2, 4],"
                + " the model's parameter [8]", shape.errLine());
        assertFalse(Files.exists(out));
    }

    @Test
    void aNegativeOrNaNFisherValueStopsNamingTheParameter() {
        for (float bad : new float[] {-0.5f, Float.NaN, Float.POSITIVE_INFINITY}) {
            Path dir = tmp.resolve("state-" + Float.floatToIntBits(bad));
            new Checkpoints().put("a", 0.1f, 0.2f).put("b", 0.3f, bad, 0.5f).write(dir);
            Path file = dir.resolve("model.safetensors");
            Path out = tmp.resolve("fisher-" + Float.floatToIntBits(bad));
            Run r = Run.of("fisher", file.toString(), out.toString(), "--step", "3", "--beta2", "0.9");
            assertEquals(3, r.code(), r::toString);
            String what = Float.isNaN(bad) ? "NaN" : bad < 0 ? "negative (" : "infinite";
            assertTrue(r.errLine().startsWith("ugm: " + file + ": parameter 'b': element 1 of the Fisher is " + what), r.err());
            assertFalse(Files.exists(out));
        }
    }

    @Test
    void anOutputInsideTheCheckpointIsRefused() throws IOException {
        Path ck = llamaCopy();
        Run r = Run.of("fisher", ck.toString(), ck.resolve("hessian").toString());
        assertEquals(2, r.code(), r::toString);
        assertTrue(r.errLine().contains("lies inside the input"), r.err());
        assertFalse(Files.exists(ck.resolve("hessian")));
    }

    @Test
    void noOptimizerStateIsOneLine() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Run r = Run.of("fisher", empty.toString(), tmp.resolve("out").toString());
        assertEquals(3, r.code(), r::toString);
        assertTrue(r.errLine().contains("no optimizer state found"), r.err());
        Run usage = Run.of("fisher", LLAMA_A.toString(), tmp.resolve("out").toString(), "--beta2", "1.5");
        assertEquals(2, usage.code(), usage::toString);
    }

    @Test
    void helpShowsTheUsage() {
        Run r = Run.of("fisher", "--help");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().startsWith("Usage: ugm fisher [-hVv] [--allow-missing]"), r.out());
        assertTrue(r.out().contains("--param-order=FILE"), r.out());
        assertTrue(r.out().lines().allMatch(l -> l.length() <= 80), "help lines fit 80 columns:\n" + r.out());
    }

    // ---- into a merge --------------------------------------------------------------------------------

    @Test
    void mergeTakesTheRecordedExampleCountAsTheDefaultScale() {
        Path fa = tmp.resolve("fa");
        assertEquals(0, Run.of("fisher", "--quiet", LLAMA_A.toString(), fa.toString()).code());
        String base = FIXTURES.resolve("llama/base").toString();
        Run dry = Run.of("merge", "--method", "gradient_matching", "--base", base, "--model", LLAMA_A.toString(), "--fisher", fa.toString(),
                "--out", tmp.resolve("m").toString(), "--dry-run");
        assertEquals(0, dry.code(), dry::toString);
        assertTrue(dry.out().contains("scale: fisher_scale of " + LLAMA_A + ": 12, the example count its Fisher " + fa + " records"
                + " (trainer_state.json: global_step 6 x batch 4 (train_batch_size) / epoch 2)"), dry.out());
        assertTrue(dry.out().contains("Fisher scales [12]"), dry.out());
        Run given = Run.of("merge", "--method", "gradient_matching", "--base", base, "--model", LLAMA_A.toString(), "--fisher", fa.toString(),
                "--fisher-scale", "48", "--out", tmp.resolve("m").toString(), "--dry-run");
        assertTrue(given.out().contains("scale: fisher_scale of " + LLAMA_A + ": given (--fisher-scale, or fisher_scale in its parameters)"), given.out());
        assertTrue(given.out().contains("Fisher scales [48]"), given.out());
        // A Fisher without the metadata keeps the default, and says so.
        Path plain = new Checkpoints().put("x", 1f).write(tmp.resolve("plain"));
        Run noCount = Run.of("merge", "--method", "gradient_matching", "--base", base, "--model", LLAMA_A.toString(), "--fisher",
                plain.toString(), "--out", tmp.resolve("m").toString(), "--dry-run");
        assertTrue(noCount.out().contains(": 1, the default (" + plain + " records no example count)"), noCount.out());
    }

    /**
     * The README's worked example, run as written: its commands (paths under /tmp/ugm-fishers
     * moved into a temporary folder) and the lines it says `ugm fisher` prints; the merge equals
     * the one the fixture script computed in float64.
     */
    @Test
    void theReadmeExampleRunsFromTrainerCheckpointsToAMerge() throws IOException {
        Path repo = Path.of("..").toAbsolutePath().normalize();
        String readme = Files.readString(repo.resolve("README.md"));
        int section = readme.indexOf("**From a Trainer checkpoint to a merge.**");
        assertTrue(section > 0, "the README's worked example");
        int codeStart = readme.indexOf("```bash\n", section) + 8;
        String code = readme.substring(codeStart, readme.indexOf("```", codeStart)).replace("\\\n", " ");
        int outStart = readme.indexOf("```\n", readme.indexOf("The first prints what it found:", section)) + 4;
        List<String> printed = readme.substring(outStart, readme.indexOf("```", outStart)).lines().toList();
        Path root = tmp.resolve("ugm-fishers");
        List<Run> runs = new ArrayList<>();
        for (String line : code.lines().filter(l -> !l.isBlank()).toList()) {
            List<String> args = new ArrayList<>();
            for (String a : line.trim().split("\\s+")) {
                if (a.startsWith("/tmp/ugm-fishers")) {
                    a = root + a.substring("/tmp/ugm-fishers".length());
                } else if (a.startsWith("io/")) {
                    a = repo.resolve(a).toString();
                }
                args.add(a);
            }
            assertEquals("./ugm", args.removeFirst());
            Run r = Run.of(args.toArray(String[]::new));
            assertEquals(0, r.code(), () -> line + "\n" + r);
            runs.add(r);
        }
        assertEquals(3, runs.size());
        String first = runs.getFirst().out().replace(repo + "/", "");
        for (String p : printed) {
            assertTrue(first.lines().anyMatch(p::equals), "README line not printed: " + p + "\n" + first);
        }
        assertTrue(runs.get(2).err().contains("fisher_scale of " + LLAMA_A + ": 12, the example count its Fisher"), runs.get(2).err());
        Map<String, Tensor> expected = read(FIXTURES.resolve("llama/expected_merge.safetensors"));
        Map<String, Tensor> merged = read(root.resolve("merged"));
        assertEquals(expected.keySet(), merged.keySet());
        for (String n : expected.keySet()) {
            double[] e = expected.get(n).values();
            double[] g = merged.get(n).values();
            for (int i = 0; i < e.length; i++) {
                // float32 arithmetic over inputs stored as float32: a few units in the last place
                assertEquals(e[i], g[i], 1e-5 * Math.max(1, Math.abs(e[i])), n + "[" + i + "]");
            }
        }
    }
}
