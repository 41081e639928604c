package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.DoubleBinaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.io.Checkpoint;

/**
 * Where ugm could differ from mergekit around the methods: the layer position of the tensors
 * outside the layers, models of different architectures, and tied embeddings (a model without
 * its own output head).
 */
class MergekitSemanticsTest {
    @TempDir
    Path tmp;

    private static final float[] E0 = {0.5f, -1.25f, 2f, 0.75f, -0.5f, 1.5f};
    private static final float[] L0 = {1.5f, 0.25f, -2f, 3f, 0.125f, -0.75f};
    private static final float[] E1 = {1f, -2f, 2.5f, 0.5f, 0.25f, 1f};
    private static final float[] L1 = {-0.5f, 1.75f, -1f, 2.5f, 0.5f, 0.25f};
    private static final long[] VOCAB_BY_HIDDEN = {3, 2};

    private static float[] values(Checkpoint c, String name) {
        MemorySegment s = c.data(name);
        float[] v = new float[(int) c.info(name).elementCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
        }
        return v;
    }

    private static float[] plus(float[] v, float d) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += d;
        }
        return out;
    }

    private static void assertElementwise(float[] base, float[] model, DoubleBinaryOperator expected, float[] got, String what) {
        assertEquals(base.length, got.length, what);
        for (int i = 0; i < got.length; i++) {
            double e = expected.applyAsDouble(base[i], model[i]);
            assertEquals(e, got[i], 1e-6 * (1 + Math.abs(e)), what + "[" + i + "]");
        }
    }

    private static void config(Path model, String architecture, String modelType, String extra) throws IOException {
        Files.writeString(model.resolve("config.json"), "{\"architectures\": [\"" + architecture + "\"], \"model_type\": \"" + modelType
                + "\"" + extra + "}");
    }

    // ---- 1. layer gradients outside the layers ----

    /** The value of the gradient {@code g} at {@code t}, as mergekit interpolates it, in double. */
    private static double gradient(double[] g, double t) {
        double scaled = t * (g.length - 1);
        int i0 = (int) scaled;
        int i1 = Math.min(g.length - 1, i0 + 1);
        double frac = scaled - i0;
        return (1 - frac) * g[i0] + frac * g[i1];
    }

    @Test
    void everyTensorOutsideTheLayersTakesTheGradientsFirstValue() throws IOException {
        int layers = 5;
        String[] names = {"model.embed_tokens.weight", "model.layers.0.mlp.weight", "model.layers.1.mlp.weight",
                "model.layers.2.mlp.weight", "model.layers.3.mlp.weight", "model.layers.4.mlp.weight", "model.norm.weight",
                "lm_head.weight"};
        Checkpoints base = new Checkpoints();
        Checkpoints task = new Checkpoints();
        for (int k = 0; k < names.length; k++) {
            base.put(names[k], plus(E0, k));
            task.put(names[k], plus(E1, 2 * k));
        }
        base.write(tmp.resolve("base"));
        task.write(tmp.resolve("task"));
        Path cfg = tmp.resolve("gradient.yml");
        Files.writeString(cfg, Configs.absolute("""
                merge_method: task_arithmetic
                base_model: base
                models:
                  - model: task
                    parameters:
                      weight: [0.2, 0.3, 1]
                """, tmp));
        Path out = tmp.resolve("out");
        Run r = Run.of("merge", cfg.toString(), out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        double[] g = {0.2, 0.3, 1};
        try (Checkpoint merged = Checkpoint.open(out)) {
            for (int k = 0; k < names.length; k++) {
                String n = names[k];
                double t = n.startsWith("model.layers.") ? Integer.parseInt(n.split("\\.")[2]) / (double) (layers - 1) : 0;
                double w = gradient(g, t);
                if (n.equals("model.layers.2.mlp.weight")) {
                    assertEquals(0.3, w, 1e-15); // the middle layer takes the middle value
                }
                if (n.equals("model.norm.weight") || n.equals("lm_head.weight")) {
                    assertEquals(0.2, w, 1e-15); // mergekit >= 0.1.2; 0.1.1 took the last value, 1
                }
                assertElementwise(plus(E0, k), plus(E1, 2 * k), (b, x) -> b + w * (x - b), values(merged, n), n);
            }
        }
    }

    // ---- 2. architectures ----

    private Path[] twoModels() {
        Checkpoints c = new Checkpoints().put("model.embed_tokens.weight", E0).put("lm_head.weight", L0);
        Path base = c.write(tmp.resolve("base"));
        Path task = new Checkpoints().put("model.embed_tokens.weight", E1).put("lm_head.weight", L1).write(tmp.resolve("task"));
        return new Path[] {base, task};
    }

    private static Run taskArithmetic(Path base, Path task, Path out, String... more) {
        String[] args = {"merge", "--method", "task_arithmetic", "--base", base.toString(), "--model", task.toString(),
                "--out", out.toString()};
        String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return Run.of(all);
    }

    @Test
    void modelsOfDifferentArchitecturesAreRefusedUnlessCrimesAreAllowed() throws IOException {
        Path[] m = twoModels();
        config(m[0], "LlamaForCausalLM", "llama", "");
        config(m[1], "MistralForCausalLM", "mistral", "");
        Path out = tmp.resolve("out");

        Run refused = taskArithmetic(m[0], m[1], out);
        assertEquals(ExitCodes.USAGE, refused.code(), refused::toString);
        assertEquals("ugm: models of different architectures: " + m[0] + " is LlamaForCausalLM (model_type llama), " + m[1]
                + " is MistralForCausalLM (model_type mistral); --allow-crimes merges them anyway", refused.errLine());
        assertFalse(Files.exists(out));

        Run dry = taskArithmetic(m[0], m[1], out, "--dry-run");
        assertEquals(ExitCodes.USAGE, dry.code(), dry::toString);
        assertTrue(dry.out().contains("models of different architectures"), dry.out());
        assertTrue(dry.err().contains("--allow-crimes merges them anyway"), dry.err());
        assertFalse(Files.exists(out));

        Run dryAllowed = taskArithmetic(m[0], m[1], out, "--dry-run", "--allow-crimes");
        assertEquals(0, dryAllowed.code(), dryAllowed::toString);
        assertTrue(dryAllowed.out().contains("models of different architectures"), dryAllowed.out());

        Run allowed = taskArithmetic(m[0], m[1], out, "--allow-crimes");
        assertEquals(0, allowed.code(), allowed::toString);
        assertTrue(allowed.err().contains("ugm: warning: models of different architectures: " + m[0] + " is LlamaForCausalLM"),
                allowed.err());
        assertTrue(Files.exists(out.resolve("model.safetensors")));
    }

    @Test
    void aDifferentModelTypeAloneIsADifferentArchitecture() throws IOException {
        Path[] m = twoModels();
        config(m[0], "LlamaForCausalLM", "llama", "");
        config(m[1], "LlamaForCausalLM", "mistral", "");
        Run r = taskArithmetic(m[0], m[1], tmp.resolve("out"));
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("is LlamaForCausalLM (model_type mistral)"), r.err());
    }

    @Test
    void theSameArchitectureOrNoConfigIsNotReported() throws IOException {
        Path[] m = twoModels();
        config(m[0], "LlamaForCausalLM", "llama", ", \"hidden_size\": 2");
        config(m[1], "LlamaForCausalLM", "llama", ", \"hidden_size\": 2");
        Run same = taskArithmetic(m[0], m[1], tmp.resolve("same"));
        assertEquals(0, same.code(), same::toString);
        assertFalse(same.err().contains("architecture"), same.err());

        // A bare safetensors file has no config.json: nothing to compare.
        Files.delete(m[1].resolve("config.json"));
        Run bare = taskArithmetic(m[0], m[1].resolve("model.safetensors"), tmp.resolve("bare"));
        assertEquals(0, bare.code(), bare::toString);
        assertFalse(bare.err().contains("architecture"), bare.err());
    }

    @Test
    void aModelsInvalidConfigIsNamed() throws IOException {
        Path[] m = twoModels();
        Files.writeString(m[1].resolve("config.json"), "{\"architectures\": [");
        Run r = taskArithmetic(m[0], m[1], tmp.resolve("out"));
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains(m[1].resolve("config.json") + ": not valid JSON"), r.err());
    }

    // ---- 3. tied embeddings ----

    @Test
    void aTiedModelsEmbeddingsStandForItsHead() throws IOException {
        Path base = new Checkpoints().put("model.embed_tokens.weight", VOCAB_BY_HIDDEN, E0).put("lm_head.weight", VOCAB_BY_HIDDEN, L0)
                .write(tmp.resolve("base"));
        Path tied = new Checkpoints().put("model.embed_tokens.weight", VOCAB_BY_HIDDEN, E1).write(tmp.resolve("tied"));
        config(base, "LlamaForCausalLM", "llama", ", \"tie_word_embeddings\": false");
        config(tied, "LlamaForCausalLM", "llama", ", \"tie_word_embeddings\": true");
        Path out = tmp.resolve("out");
        Run r = taskArithmetic(base, tied, out, "--weight", "0.7", "--lambda", "0.9");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.err().contains("ugm: warning: " + tied + " has no lm_head.weight; its model.embed_tokens.weight stands for it"), r.err());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertElementwise(L0, E1, (b, x) -> b + 0.9 * 0.7 * (x - b), values(merged, "lm_head.weight"), "lm_head");
            assertElementwise(E0, E1, (b, x) -> b + 0.9 * 0.7 * (x - b), values(merged, "model.embed_tokens.weight"), "embed");
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"tie_word_embeddings\": false"));
    }

    @Test
    void aTiedModelsFisherFollowsItsEmbeddingsToo() throws IOException {
        float[] h0 = {0.5f, 2f, 1f, 0.25f, 3f, 1.5f};
        float[] he = {1f, 0.5f, 4f, 2f, 0.125f, 1f};
        float[] hl = {9f, 9f, 9f, 9f, 9f, 9f}; // the base Fisher's head
        Path base = new Checkpoints().put("model.embed_tokens.weight", E0).put("lm_head.weight", L0).write(tmp.resolve("base"));
        new Checkpoints().put("model.embed_tokens.weight", h0).put("lm_head.weight", hl).write(base.resolve("hessian"));
        Path tied = new Checkpoints().put("model.embed_tokens.weight", E1).write(tmp.resolve("tied"));
        new Checkpoints().put("model.embed_tokens.weight", he).write(tied.resolve("hessian"));
        Path out = tmp.resolve("out");
        Run r = Run.of("merge", "--method", "gradient_matching", "--base", base.toString(), "--model", tied.toString(), "--weight", "0.8",
                "--fisher-scale", "3", "--base-fisher-scale", "2", "--delta0", "0.1", "--out", out.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        try (Checkpoint merged = Checkpoint.open(out)) {
            float[] got = values(merged, "lm_head.weight");
            for (int i = 0; i < got.length; i++) {
                // θ0 + α(P0 + s·H)/(P0 + α·s·H)·(θ1 − θ0), P0 = δ0 + s0·H0; the head: base Fisher's head, the model's embeddings' Fisher
                double p0 = 0.1 + 2.0 * hl[i];
                double e = L0[i] + 0.8 * (p0 + 3.0 * he[i]) / (p0 + 0.8 * 3.0 * he[i]) * (E1[i] - L0[i]);
                assertEquals(e, got[i], 1e-6 * (1 + Math.abs(e)), "lm_head[" + i + "]");
            }
        }
    }

    @Test
    void aTiedBaseGivesItsEmbeddingsToTheHeadAnUntiedModelHas() throws IOException {
        Path base = new Checkpoints().put("model.embed_tokens.weight", E0).write(tmp.resolve("base"));
        Path untied = new Checkpoints().put("model.embed_tokens.weight", E1).put("lm_head.weight", L1).write(tmp.resolve("untied"));
        config(base, "Qwen2ForCausalLM", "qwen2", ", \"tie_word_embeddings\": true");
        Path out = tmp.resolve("out");
        Run r = taskArithmetic(base, untied, out, "--weight", "0.5");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.err().contains("has tie_word_embeddings: true, copied as it is"), r.err());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertElementwise(E0, L1, (b, x) -> b + 0.5 * (x - b), values(merged, "lm_head.weight"), "lm_head");
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"tie_word_embeddings\": true"));
    }

    @Test
    void withoutAnyHeadTheOutputHasNoneEither() throws IOException {
        Path base = new Checkpoints().put("transformer.wte.weight", E0).write(tmp.resolve("base"));
        Path task = new Checkpoints().put("transformer.wte.weight", E1).write(tmp.resolve("task"));
        Path out = tmp.resolve("out");
        Run r = taskArithmetic(base, task, out);
        assertEquals(0, r.code(), r::toString);
        assertFalse(r.err().contains("stands for it"), r.err());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertNull(merged.info("lm_head.weight"));
            assertNotNull(merged.info("transformer.wte.weight"));
        }
    }

    @Test
    void gpt2NamesAndNoBaseToo() throws IOException {
        // linear without a base: the first model is tied (GPT-2's names), the second has its own head.
        Path a = new Checkpoints().put("transformer.wte.weight", E0).write(tmp.resolve("a"));
        Path b = new Checkpoints().put("transformer.wte.weight", E1).put("lm_head.weight", L1).write(tmp.resolve("b"));
        Path out = tmp.resolve("out");
        Run r = Run.of("merge", "--method", "linear", "--model", a.toString(), "--model", b.toString(), "--weight", "1", "--weight", "3",
                "--out", out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.err().contains(a + " has no lm_head.weight; its transformer.wte.weight stands for it"), r.err());
        try (Checkpoint merged = Checkpoint.open(out)) {
            assertElementwise(E0, L1, (x, y) -> (x + 3 * y) / 4, values(merged, "lm_head.weight"), "lm_head");
            assertElementwise(E0, E1, (x, y) -> (x + 3 * y) / 4, values(merged, "transformer.wte.weight"), "wte");
        }
    }
}
