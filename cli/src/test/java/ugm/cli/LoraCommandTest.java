package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.io.Checkpoint;
import ugm.io.LoraFixture;
import ugm.io.LoraFixture.Tensor;

/** BASE+ADAPTER on the command line: convert writes the adapted model, merges read it, bad adapters end with one line. */
class LoraCommandTest {
    private static final String Q = "model.layers.0.self_attn.q_proj";
    private static final String KEY = "base_model.model." + Q;

    @TempDir
    Path tmp;

    Tensor w;
    Tensor norm;
    Tensor a;
    Tensor b;

    /** base/ (BF16, with config.json) and lora/ (r 4, lora_alpha 8) adapting Q. */
    private Path[] write() throws IOException {
        LoraFixture f = new LoraFixture(11);
        w = f.random(Q + ".weight", DType.BF16, 24, 20);
        norm = f.random("model.norm.weight", DType.BF16, 20);
        Path base = f.write(tmp.resolve("base/model.safetensors")).getParent();
        Files.writeString(base.resolve("config.json"), "{\"model_type\": \"llama\", \"torch_dtype\": \"bfloat16\"}");
        a = f.random(KEY + ".lora_A.weight", DType.F32, 4, 20);
        b = f.random(KEY + ".lora_B.weight", DType.F32, 24, 4);
        f.write(tmp.resolve("lora/adapter_model.safetensors"));
        LoraFixture.config(tmp.resolve("lora"), "\"r\": 4, \"lora_alpha\": 8, \"use_rslora\": false, \"fan_in_fan_out\": false");
        return new Path[] {base, tmp.resolve("lora")};
    }

    @Test
    void convertWritesTheFullAdaptedModel() throws IOException {
        Path[] p = write();
        Path out = tmp.resolve("merged");
        Run r = Run.of("convert", p[0] + "+" + p[1], out.toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.errLine().startsWith("ugm: converted 2 tensors into " + out), r.err());
        try (Checkpoint ck = Checkpoint.open(out); Checkpoint base = Checkpoint.open(p[0])) {
            assertEquals(DType.BF16, ck.info(Q + ".weight").dtype());
            LoraFixture.assertRounded(Q, DType.BF16, LoraFixture.expected(w, a, b, 2, false), ck.data(Q + ".weight"));
            assertEquals(-1, base.data("model.norm.weight").mismatch(ck.data("model.norm.weight")));
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("llama"), "the base's config.json is copied");

        Run f32 = Run.of("convert", p[0] + "+" + p[1], tmp.resolve("f32").toString(), "--dtype", "f32", "--quiet");
        assertEquals(0, f32.code(), f32::toString);
        try (Checkpoint ck = Checkpoint.open(tmp.resolve("f32"))) {
            // Rounded to the base's BF16 first, as PEFT merges into the base layer, then widened.
            assertEquals(DType.F32, ck.info(Q + ".weight").dtype());
            LoraFixture.assertRounded(Q, DType.BF16, DType.F32, LoraFixture.expected(w, a, b, 2, false), ck.data(Q + ".weight"));
            assertTrue(Files.readString(tmp.resolve("f32/config.json")).contains("float32"));
        }
    }

    @Test
    void aMergeReadsBasePlusAdapterFromAConfig() throws IOException {
        Path[] p = write();
        Files.writeString(tmp.resolve("merge.yml"), """
                merge_method: linear
                models:
                  - model: %s+%s
                    parameters: {weight: 1}
                  - model: %s
                    parameters: {weight: 1}
                dtype: float32
                """.formatted(p[0], p[1], p[0]));
        Run r = Run.of("merge", tmp.resolve("merge.yml").toString(), tmp.resolve("out").toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        double[] adapted = LoraFixture.expected(w, a, b, 2, false);
        try (Checkpoint ck = Checkpoint.open(tmp.resolve("out"))) {
            for (int i = 0; i < adapted.length; i++) {
                // the mean of the adapted weight (rounded to BF16) and the base weight
                double mean = (LoraFixture.round(DType.BF16, adapted[i]) + w.values()[i]) / 2;
                double got = LoraFixture.get(DType.F32, ck.data(Q + ".weight"), i);
                double tolerance = LoraFixture.halfUlp(DType.BF16, adapted[i]) + 1e-6;
                assertTrue(Math.abs(got - mean) <= tolerance, "element " + i + ": " + got + " vs " + mean);
            }
        }
        Run flags = Run.of("merge", "--method", "linear", "--model", p[0] + "+" + p[1], "--model", p[0].toString(),
                "--out-dtype", "f32", "--out", tmp.resolve("flags").toString(), "--quiet");
        assertEquals(0, flags.code(), flags::toString);
        try (Checkpoint x = Checkpoint.open(tmp.resolve("out")); Checkpoint y = Checkpoint.open(tmp.resolve("flags"))) {
            assertEquals(-1, x.data(Q + ".weight").mismatch(y.data(Q + ".weight")), "config and flags agree");
        }
    }

    @Test
    void eitherSideMayBeAModelIdInTheCache() throws IOException {
        Path[] p = write();
        Path root = tmp.resolve("hub");
        ModelReferenceTest.put(root, "org/base", "main", "a".repeat(40), p[0]);
        ModelReferenceTest.put(root, "org/lora", "main", "b".repeat(40), p[1]);
        Run hub = Run.of("merge", "--method", "linear", "--model", "org/base+org/lora", "--model", "org/base",
                "--transformers-cache", root.toString(), "--out", tmp.resolve("hub-out").toString(), "--quiet");
        assertEquals(0, hub.code(), hub::toString);
        Run local = Run.of("merge", "--method", "linear", "--model", p[0] + "+" + p[1], "--model", p[0].toString(),
                "--out", tmp.resolve("local-out").toString(), "--quiet");
        assertEquals(0, local.code(), local::toString);
        try (Checkpoint x = Checkpoint.open(tmp.resolve("hub-out")); Checkpoint y = Checkpoint.open(tmp.resolve("local-out"))) {
            assertEquals(-1, x.data(Q + ".weight").mismatch(y.data(Q + ".weight")), "the cached adapter is the local one");
        }
        Run missing = Run.of("merge", "--method", "linear", "--model", "org/base+org/nolora", "--model", "org/base",
                "--transformers-cache", root.toString(), "--out", tmp.resolve("missing-out").toString());
        assertEquals(3, missing.code(), missing::toString);
        assertTrue(missing.errLine().contains("org/nolora is not in the Hugging Face cache"), missing.err());
    }

    @Test
    void aBaseModelMayBeBasePlusAdapter() throws IOException {
        Path[] p = write();
        Files.writeString(tmp.resolve("undo.yml"), """
                merge_method: task_arithmetic
                base_model: %s+%s
                models:
                  - model: %s
                    parameters: {weight: 1}
                """.formatted(p[0], p[1], p[0]));
        Run dry = Run.of("merge", tmp.resolve("undo.yml").toString(), tmp.resolve("out").toString(), "--dry-run");
        assertEquals(0, dry.code(), dry::toString);
        Run r = Run.of("merge", tmp.resolve("undo.yml").toString(), tmp.resolve("out").toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        // adapted + 1·(base − adapted): the base again, within BF16 rounding of the adapted weight
        double[] adapted = LoraFixture.expected(w, a, b, 2, false);
        try (Checkpoint ck = Checkpoint.open(tmp.resolve("out"))) {
            for (int i = 0; i < adapted.length; i++) {
                double got = LoraFixture.get(DType.BF16, ck.data(Q + ".weight"), i);
                assertTrue(Math.abs(got - w.values()[i]) <= 2 * LoraFixture.halfUlp(DType.BF16, adapted[i]) + 1e-9,
                        "element " + i + ": " + got + " vs " + w.values()[i]);
            }
        }
        assertTrue(Files.readString(tmp.resolve("out/config.json")).contains("llama"), "the base's config.json is copied");
        assertTrue(Files.readString(tmp.resolve("out/README.md")).contains("base_model: \"base\"\n"));
    }

    @Test
    void aBasePlusAdapterModelsFisherIsLookedForInTheAdapterFolder() throws IOException {
        Path[] p = write();
        Run r = Run.of("merge", "--method", "fisher", "--model", p[0] + "+" + p[1], "--model", p[0].toString(),
                "--out", tmp.resolve("out").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("or put it in " + p[1].resolve("hessian")), r.err());
    }

    @Test
    void badAdaptersEndWithOneLineAndExit3() throws IOException {
        Path[] p = write();
        LoraFixture.config(p[1], "\"r\": 8, \"lora_alpha\": 8");
        Run r = Run.of("convert", p[0] + "+" + p[1], tmp.resolve("out").toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertEquals("ugm: " + p[1].resolve("adapter_model.safetensors") + ": tensor '" + KEY + ".lora_A.weight': has rank 4 but "
                + "adapter_config.json gives r = 8 for module '" + Q + "'", r.errLine());
        assertFalse(Files.exists(tmp.resolve("out")));

        Run missing = Run.of("convert", p[0] + "+" + tmp.resolve("nothing"), tmp.resolve("out").toString());
        assertEquals(ExitCodes.INVALID_INPUT, missing.code(), missing::toString);
        assertEquals("ugm: " + tmp.resolve("nothing") + ": no such adapter folder", missing.errLine());
    }

    @Test
    void theOutputMustLieApartFromTheAdapter() throws IOException {
        Path[] p = write();
        Run r = Run.of("convert", p[0] + "+" + p[1], p[1].resolve("merged").toString());
        assertEquals(ExitCodes.USAGE, r.code(), r::toString);
        assertTrue(r.errLine().contains("lies inside the input " + p[1]), r.err());
    }
}
