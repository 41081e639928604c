package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.DType;
import ugm.core.UgmException;
import ugm.io.LoraFixture.Tensor;

class LoraAdapterTest {
    private static final String Q = "model.layers.0.self_attn.q_proj";
    private static final String KEY = "base_model.model." + Q;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16", "F64"})
    void adaptedTensorIsWPlusAlphaOverRTimesBA(DType dtype) {
        LoraFixture f = new LoraFixture(1);
        Tensor w = f.random(Q + ".weight", dtype, 37, 29);
        f.random("model.norm.weight", dtype, 29);
        Path base = f.write(tmp.resolve("base/model.safetensors")).getParent();
        Tensor a = f.random(KEY + ".lora_A.weight", DType.F32, 4, 29);
        Tensor b = f.random(KEY + ".lora_B.weight", DType.BF16, 37, 4);
        f.write(tmp.resolve("adapter/adapter_model.safetensors"));
        Path adapter = LoraFixture.config(tmp.resolve("adapter"), "\"r\": 4, \"lora_alpha\": 16");
        try (Checkpoint ck = Checkpoint.open(base, adapter); Checkpoint plain = Checkpoint.open(base)) {
            assertEquals(1, ck.adapted());
            assertEquals(plain.tensors(), ck.tensors());
            LoraFixture.assertRounded(Q, dtype, LoraFixture.expected(w, a, b, 16.0 / 4, false), ck.data(Q + ".weight"));
            assertSame(ck.data(Q + ".weight"), ck.data(Q + ".weight"), "computed once");
            assertEquals(-1, ck.data("model.norm.weight").mismatch(plain.data("model.norm.weight")), "untouched tensors pass through");
            assertEquals(base + "+" + adapter, ck.describe());
            assertTrue(ck.files().contains(adapter.resolve("adapter_model.safetensors")) && ck.files().contains(adapter.resolve("adapter_config.json")));
            assertTrue(ck.inputs().contains(adapter));
            ck.release(Q + ".weight");
            LoraFixture.assertRounded(Q + " after release", dtype, LoraFixture.expected(w, a, b, 4, false), ck.data(Q + ".weight"));
        }
    }

    @Test
    void rsLoraScalesByAlphaOverRootR() {
        LoraFixture f = new LoraFixture(2);
        Tensor w = f.random(Q + ".weight", DType.F32, 8, 12);
        Path base = f.write(tmp.resolve("base.safetensors"));
        Tensor a = f.random(KEY + ".lora_A.weight", DType.F32, 9, 12);
        Tensor b = f.random(KEY + ".lora_B.weight", DType.F32, 8, 9);
        f.write(tmp.resolve("adapter/adapter_model.safetensors"));
        Path adapter = LoraFixture.config(tmp.resolve("adapter"), "\"r\": 9, \"lora_alpha\": 6, \"use_rslora\": true");
        try (Checkpoint ck = Checkpoint.open(base, adapter)) {
            LoraFixture.assertRounded(Q, DType.F32, LoraFixture.expected(w, a, b, 6 / 3.0, false), ck.data(Q + ".weight"));
        }
    }

    @Test
    void fanInFanOutTransposesTheProductForConv1DWeights() {
        LoraFixture f = new LoraFixture(3);
        // GPT-2's Conv1D keeps [in, out]: 16 inputs, 48 outputs.
        Tensor w = f.random("h.0.attn.c_attn.weight", DType.F32, 16, 48);
        Path base = f.write(tmp.resolve("base/model.safetensors")).getParent();
        Tensor a = f.random("base_model.model.h.0.attn.c_attn.lora_A.weight", DType.F32, 2, 16);
        Tensor b = f.random("base_model.model.h.0.attn.c_attn.lora_B.weight", DType.F32, 48, 2);
        f.write(tmp.resolve("adapter/adapter_model.safetensors"));
        Path adapter = LoraFixture.config(tmp.resolve("adapter"), "\"r\": 2, \"lora_alpha\": 3, \"fan_in_fan_out\": true");
        try (Checkpoint ck = Checkpoint.open(base, adapter)) {
            LoraFixture.assertRounded("c_attn", DType.F32, LoraFixture.expected(w, a, b, 1.5, true), ck.data("h.0.attn.c_attn.weight"));
        }
        LoraFixture.config(tmp.resolve("adapter"), "\"r\": 2, \"lora_alpha\": 3");
        AdapterException e = assertThrows(AdapterException.class, () -> Checkpoint.open(base, adapter).close());
        assertEquals(adapter.resolve("adapter_model.safetensors").toString(), e.file());
        assertTrue(e.getMessage().contains("fan_in_fan_out is false"), e.getMessage());
    }

    @Test
    void embeddingLoraAndAdapterNamesAndPatternsAndModulesToSave() {
        LoraFixture f = new LoraFixture(4);
        Tensor emb = f.random("model.embed_tokens.weight", DType.BF16, 50, 8);
        Tensor q = f.random(Q + ".weight", DType.BF16, 8, 8);
        Tensor v = f.random("model.layers.0.self_attn.v_proj.weight", DType.BF16, 8, 8);
        f.random("score.weight", DType.BF16, 3, 8);
        f.random("score.bias", DType.BF16, 3);
        Path base = f.write(tmp.resolve("base/model.safetensors")).getParent();
        Tensor ea = f.random("base_model.model.model.embed_tokens.lora_embedding_A", DType.F32, 2, 50);
        Tensor eb = f.random("base_model.model.model.embed_tokens.lora_embedding_B", DType.F32, 8, 2);
        Tensor qa = f.random(KEY + ".lora_A.default.weight", DType.F32, 2, 8);
        Tensor qb = f.random(KEY + ".lora_B.default.weight", DType.F32, 8, 2);
        Tensor va = f.random("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", DType.F32, 4, 8);
        Tensor vb = f.random("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", DType.F32, 8, 4);
        Tensor score = f.random("base_model.model.score.modules_to_save.default.weight", DType.F32, 3, 8);
        Tensor bias = f.random("base_model.model.score.bias", DType.F32, 3);
        f.write(tmp.resolve("adapter/adapter_model.safetensors"));
        Path adapter = LoraFixture.config(tmp.resolve("adapter"),
                "\"r\": 2, \"lora_alpha\": 4, \"rank_pattern\": {\"v_proj\": 4}, \"alpha_pattern\": {\"layers\\\\.0\\\\.self_attn\\\\.v_proj\": 2}");
        try (Checkpoint ck = Checkpoint.open(base, adapter)) {
            assertEquals(5, ck.adapted());
            LoraFixture.assertRounded("embedding", DType.BF16, LoraFixture.expected(emb, ea, eb, 2, true), ck.data("model.embed_tokens.weight"));
            LoraFixture.assertRounded("q", DType.BF16, LoraFixture.expected(q, qa, qb, 2, false), ck.data(Q + ".weight"));
            LoraFixture.assertRounded("v (rank 4, alpha 2)", DType.BF16, LoraFixture.expected(v, va, vb, 0.5, false),
                    ck.data("model.layers.0.self_attn.v_proj.weight"));
            double[] roundedScore = java.util.Arrays.stream(score.values()).map(x -> LoraFixture.round(DType.BF16, x)).toArray();
            LoraFixture.assertRounded("score", DType.BF16, roundedScore, ck.data("score.weight"));
            double[] roundedBias = java.util.Arrays.stream(bias.values()).map(x -> LoraFixture.round(DType.BF16, x)).toArray();
            LoraFixture.assertRounded("bias", DType.BF16, roundedBias, ck.data("score.bias"));
        }
    }

    @Test
    void anAdapterModelBinIsReadByTheTorchReader() throws IOException {
        // The tiny torch.save state dict (see torch/make_fixtures.py) as an adapter of full tensors:
        // each replaces the base tensor of its name (in BF16 for the floating ones), position_ids as is.
        LoraFixture f = new LoraFixture(8);
        f.random("embed.weight", DType.BF16, 4, 3);
        f.random("proj.weight", DType.F32, 2, 3);
        f.random("proj.bias", DType.F32, 2);
        f.random("norm.weight", DType.F32, 2);
        f.random("norm.bias", DType.F32, 2);
        f.random("lm_head.weight", DType.F32, 4, 3);
        f.random("position_ids", DType.I64, 5);
        Path base = f.write(tmp.resolve("base/model.safetensors"));
        Path adapter = LoraFixture.config(tmp.resolve("adapter"), "\"r\": 8, \"lora_alpha\": 16");
        Files.copy(TorchZips.fixture("tiny/pytorch_model.bin"), adapter.resolve("adapter_model.bin"));
        try (Checkpoint ck = Checkpoint.open(base, adapter)) {
            assertEquals(7, ck.adapted());
            assertTrue(ck.files().contains(adapter.resolve("adapter_model.bin")));
            for (int i = 0; i < 12; i++) {
                assertEquals(-1.0 + 0.5 * i, LoraFixture.get(DType.BF16, ck.data("embed.weight"), i), "embed.weight");
                assertEquals(-1.0 + 0.5 * i, LoraFixture.get(DType.F32, ck.data("lm_head.weight"), i), "lm_head.weight");
            }
            assertEquals(1.25, LoraFixture.get(DType.F32, ck.data("proj.weight"), 5));
            assertEquals(4.0, LoraFixture.get(DType.I64, ck.data("position_ids"), 4));
        }
    }

    @Test
    void adapterChangedOnDiskIsNamed() throws IOException {
        Path[] paths = simple(tmp, DType.F32);
        try (Checkpoint ck = Checkpoint.open(paths[0], paths[1])) {
            ck.requireUnchanged("merge");
            Path weights = paths[1].resolve("adapter_model.safetensors");
            Path moved = tmp.resolve("moved");
            Files.move(weights, moved);
            Files.copy(moved, weights);
            UgmException e = assertThrows(UgmException.class, () -> ck.requireUnchanged("merge"));
            assertEquals("input changed during merge: " + weights, e.getMessage());
        }
    }

    /** A base folder and an adapter folder (r 2, alpha 2) adapting Q; returns {base, adapter}. */
    static Path[] simple(Path dir, DType dtype) {
        LoraFixture f = new LoraFixture(5);
        f.random(Q + ".weight", dtype, 6, 5);
        Path base = f.write(dir.resolve("base/model.safetensors")).getParent();
        f.random(KEY + ".lora_A.weight", DType.F32, 2, 5);
        f.random(KEY + ".lora_B.weight", DType.F32, 6, 2);
        f.write(dir.resolve("adapter/adapter_model.safetensors"));
        return new Path[] {base, LoraFixture.config(dir.resolve("adapter"), "\"r\": 2, \"lora_alpha\": 2")};
    }

    private AdapterException refused(Path base, Path adapter) {
        return assertThrows(AdapterException.class, () -> Checkpoint.open(base, adapter).close());
    }

    @Test
    void badAdaptersAreRefusedNamingFileAndTensor() throws IOException {
        Path[] p = simple(tmp, DType.F32);
        Path base = p[0];
        Path adapter = p[1];
        Path config = adapter.resolve("adapter_config.json");
        Path weights = adapter.resolve("adapter_model.safetensors");

        LoraFixture.config(adapter, "\"lora_alpha\": 2");
        assertEquals(config + ": has no r (the rank)", refused(base, adapter).getMessage());
        LoraFixture.config(adapter, "\"r\": 2");
        assertEquals(config + ": has no lora_alpha", refused(base, adapter).getMessage());
        LoraFixture.config(adapter, "\"r\": 2.5, \"lora_alpha\": 2");
        assertTrue(refused(base, adapter).getMessage().contains("not a positive whole number"));
        LoraFixture.config(adapter, "\"r\": 2, \"lora_alpha\": 2, \"use_dora\": true");
        assertTrue(refused(base, adapter).getMessage().startsWith(config + ": DoRA adapters (use_dora) are not supported"));
        Files.writeString(config, "{\"peft_type\": \"IA3\", \"r\": 2, \"lora_alpha\": 2}");
        assertTrue(refused(base, adapter).getMessage().contains("only LORA adapters"));
        Files.writeString(config, "{\"r\": 2,");
        assertTrue(refused(base, adapter).getMessage().startsWith(config + ": not valid JSON"));

        LoraFixture.config(adapter, "\"r\": 3, \"lora_alpha\": 2");
        AdapterException rank = refused(base, adapter);
        assertEquals(weights.toString(), rank.file());
        assertEquals(KEY + ".lora_A.weight", rank.tensor());
        assertTrue(rank.getMessage().contains("has rank 2 but adapter_config.json gives r = 3"), rank.getMessage());
        LoraFixture.config(adapter, "\"r\": 2, \"lora_alpha\": 2");

        LoraFixture f = new LoraFixture(6);
        f.random(KEY + ".lora_A.weight", DType.F32, 2, 7);
        f.random(KEY + ".lora_B.weight", DType.F32, 6, 2);
        f.write(weights);
        AdapterException shape = refused(base, adapter);
        assertEquals(KEY + ".lora_A.weight", shape.tensor());
        assertTrue(shape.getMessage().contains("B·A is 6×7, but base tensor '" + Q + ".weight' is [6, 5]"), shape.getMessage());

        f.random("base_model.model.model.layers.9.mlp.up_proj.lora_A.weight", DType.F32, 2, 5);
        f.random("base_model.model.model.layers.9.mlp.up_proj.lora_B.weight", DType.F32, 6, 2);
        f.write(weights);
        AdapterException missing = refused(base, adapter);
        assertTrue(missing.getMessage().contains("adapts 'model.layers.9.mlp.up_proj.weight', which the base " + base + " lacks"),
                missing.getMessage());

        f.random(KEY + ".lora_A.weight", DType.F32, 2, 5);
        f.write(weights);
        assertTrue(refused(base, adapter).getMessage().contains("has no lora_B partner"));

        f.random("base_model.model.lm_head.weight", DType.F32, 6, 5);
        f.write(weights);
        assertTrue(refused(base, adapter).getMessage().contains("matches no tensor of the base"));

        f.random(KEY + ".lora_A.weight", DType.F32, 2, 5);
        f.random(KEY + ".lora_B.weight", DType.F32, 6, 2);
        f.random(KEY + ".lora_magnitude_vector", DType.F32, 6);
        f.write(weights);
        assertTrue(refused(base, adapter).getMessage().contains("DoRA adapters are not supported"));

        Files.delete(weights);
        assertEquals(adapter + ": adapter folder has neither adapter_model.safetensors nor adapter_model.bin",
                refused(base, adapter).getMessage());
        Files.delete(config);
        assertEquals(adapter + ": adapter folder has no adapter_config.json", refused(base, adapter).getMessage());
        assertEquals(tmp.resolve("none") + ": no such adapter folder", refused(base, tmp.resolve("none")).getMessage());
    }

    @Test
    void aReferenceSplitsAtThePlusWhoseSidesExistAndAnExistingPathWins() throws IOException {
        Files.createDirectories(tmp.resolve("base"));
        Files.createDirectories(tmp.resolve("my+lora"));
        assertEquals(new AdapterRef(tmp.resolve("base"), tmp.resolve("my+lora")), AdapterRef.parse(tmp, "base+my+lora"));
        assertEquals(new AdapterRef(tmp.resolve("base"), tmp.resolve("lora")), AdapterRef.parse(tmp, "base+lora"),
                "with one '+', the split is made though a side is missing (its error names it)");
        assertNull(AdapterRef.parse(tmp, "my+lora"), "an existing path is one model");
        assertNull(AdapterRef.parse(tmp, "base"));
        assertNull(AdapterRef.parse(tmp, "x+y+z"), "several '+' and no split of existing paths: one (missing) model");
        Files.createDirectories(tmp.resolve("base+my"));
        Files.createDirectories(tmp.resolve("lora"));
        UgmException e = assertThrows(UgmException.class, () -> AdapterRef.parse(tmp, "base+my+lora"));
        assertEquals(UgmException.Kind.USAGE, e.kind());
        assertEquals(tmp.resolve("lora").resolve(Checkpoint.FISHER_FOLDER), AdapterRef.fisherFolder(Path.of(tmp.resolve("base") + "+" + tmp.resolve("lora"))));
        assertEquals(tmp.resolve("base"), AdapterRef.modelFolder(Path.of(tmp.resolve("base") + "+" + tmp.resolve("lora"))));
    }

    @Test
    void productRowSumsEveryRankForRanksHittingEveryTailOfTheUnrolledLoop() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        for (int r = 1; r <= 13; r++) {
            for (int cols : new int[] {1, 3, 17}) {
                int rows = 3;
                double[] left = random.doubles((long) rows * r, -1, 1).toArray();
                double[] right = random.doubles((long) r * cols, -1, 1).toArray();
                double[] acc = new double[cols];
                for (int i = 0; i < rows; i++) {
                    LoraAdapter.productRow(left, right, i, r, acc);
                    for (int j = 0; j < cols; j++) {
                        double sum = 0;
                        for (int k = 0; k < r; k++) {
                            sum += left[i * r + k] * right[k * cols + j];
                        }
                        assertEquals(sum, acc[j], 1e-14, "r " + r + ", row " + i + ", column " + j);
                    }
                }
            }
        }
    }
}
