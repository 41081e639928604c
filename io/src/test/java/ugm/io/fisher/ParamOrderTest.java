package ugm.io.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import ugm.io.fisher.Family.NormRule;
import ugm.io.fisher.ParamOrder.Param;

/**
 * The named_parameters() order rebuilt from names, the Trainer's decay rule, and the grouping
 * checks. Expected orders are written out by hand from the module classes' registration order
 * (transformers' GPT2LMHeadModel, BertForMaskedLM, LlamaForCausalLM), not computed.
 */
class ParamOrderTest {

    private static List<String> sorted(Family f, List<String> names) {
        List<String> shuffled = new ArrayList<>(names);
        Collections.shuffle(shuffled, new Random(7));
        shuffled.sort(f::compare);
        return shuffled;
    }

    @Test
    void gpt2OrderIsRegistrationOrderWithLayersByNumber() {
        List<String> expected = new ArrayList<>(List.of("transformer.wte.weight", "transformer.wpe.weight"));
        for (int i : new int[] {0, 1, 2, 10}) {
            String h = "transformer.h." + i + ".";
            expected.addAll(List.of(h + "ln_1.weight", h + "ln_1.bias", h + "attn.c_attn.weight", h + "attn.c_attn.bias",
                    h + "attn.c_proj.weight", h + "attn.c_proj.bias", h + "ln_2.weight", h + "ln_2.bias", h + "mlp.c_fc.weight",
                    h + "mlp.c_fc.bias", h + "mlp.c_proj.weight", h + "mlp.c_proj.bias"));
        }
        expected.addAll(List.of("transformer.ln_f.weight", "transformer.ln_f.bias"));
        assertEquals(expected, sorted(Family.GPT2, expected));
        assertFalse(Family.noDecay(Family.GPT2, NormRule.TORCH_NORMS, "transformer.h.0.attn.c_attn.weight"));
        assertTrue(Family.noDecay(Family.GPT2, NormRule.TORCH_NORMS, "transformer.h.0.ln_1.weight"), "ln_1 is a torch LayerNorm");
        assertTrue(Family.noDecay(Family.GPT2, NormRule.TORCH_NORMS, "transformer.h.0.mlp.c_fc.bias"));
    }

    @Test
    void bertOrderPutsAModulesOwnParameterBeforeItsChildren() {
        List<String> expected = new ArrayList<>(List.of("bert.embeddings.word_embeddings.weight",
                "bert.embeddings.position_embeddings.weight", "bert.embeddings.token_type_embeddings.weight",
                "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias"));
        String l = "bert.encoder.layer.0.";
        expected.addAll(List.of(l + "attention.self.query.weight", l + "attention.self.query.bias", l + "attention.self.key.weight",
                l + "attention.self.key.bias", l + "attention.self.value.weight", l + "attention.self.value.bias",
                l + "attention.output.dense.weight", l + "attention.output.dense.bias", l + "attention.output.LayerNorm.weight",
                l + "attention.output.LayerNorm.bias", l + "intermediate.dense.weight", l + "intermediate.dense.bias",
                l + "output.dense.weight", l + "output.dense.bias", l + "output.LayerNorm.weight", l + "output.LayerNorm.bias"));
        // BertLMPredictionHead registers transform and decoder, then its own bias: own parameters come first.
        expected.addAll(List.of("cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias"));
        assertEquals(expected, sorted(Family.ENCODER, expected));
        assertTrue(Family.noDecay(Family.ENCODER, NormRule.TORCH_NORMS, "bert.embeddings.LayerNorm.weight"));
        assertFalse(Family.noDecay(Family.ENCODER, NormRule.TORCH_NORMS, "bert.embeddings.word_embeddings.weight"));
    }

    @Test
    void llamaNormsDecayAsTheRuleSays() {
        String norm = "model.norm.weight";
        String input = "model.layers.0.input_layernorm.weight";
        assertTrue(Family.noDecay(Family.DECODER, NormRule.ALL_NORMS, norm));
        assertTrue(Family.noDecay(Family.DECODER, NormRule.ALL_NORMS, input));
        assertFalse(Family.noDecay(Family.DECODER, NormRule.NAMED_NORMS, norm), "a bare norm is matched by name only in newer versions");
        assertTrue(Family.noDecay(Family.DECODER, NormRule.NAMED_NORMS, input));
        assertFalse(Family.noDecay(Family.DECODER, NormRule.TORCH_NORMS, input));
        assertTrue(Family.noDecay(Family.DECODER, NormRule.TORCH_NORMS, "model.layers.0.self_attn.q_proj.bias"));
    }

    @Test
    void anUnknownModuleStopsTheRebuild() {
        Family.Unknown u = assertThrows(Family.Unknown.class, () -> Family.DECODER.requireKnown("model.layers.0.self_attn.qkv_proj.weight"));
        assertEquals("qkv_proj", u.component);
        assertThrows(Family.Unknown.class, () -> Family.DECODER.requireKnown("model.layers.0.mlp.gate_proj.scale"));
    }

    /** A Llama of two layers in named_parameters() order, with shapes that tell most tensors apart. */
    private static List<Param> llama() {
        List<Param> p = new ArrayList<>();
        p.add(new Param("model.embed_tokens.weight", new long[] {16, 8}));
        for (int i = 0; i < 2; i++) {
            String l = "model.layers." + i + ".";
            p.add(new Param(l + "self_attn.q_proj.weight", new long[] {8, 8}));
            p.add(new Param(l + "self_attn.k_proj.weight", new long[] {4, 8}));
            p.add(new Param(l + "self_attn.v_proj.weight", new long[] {4, 8}));
            p.add(new Param(l + "self_attn.o_proj.weight", new long[] {8, 8}));
            p.add(new Param(l + "mlp.gate_proj.weight", new long[] {12, 8}));
            p.add(new Param(l + "mlp.up_proj.weight", new long[] {12, 8}));
            p.add(new Param(l + "mlp.down_proj.weight", new long[] {8, 12}));
            p.add(new Param(l + "input_layernorm.weight", new long[] {8}));
            p.add(new Param(l + "post_attention_layernorm.weight", new long[] {8}));
        }
        p.add(new Param("model.norm.weight", new long[] {8}));
        p.add(new Param("lm_head.weight", new long[] {16, 8}));
        return p;
    }

    /** The groups and shapes an optimizer built as the Trainer builds it would have. */
    private record Optimizer(List<List<Long>> ids, Map<Long, long[]> shapes) implements ParamOrder.Fit {
        static Optimizer of(List<List<Param>> groups) {
            List<List<Long>> ids = new ArrayList<>();
            Map<Long, long[]> shapes = new HashMap<>();
            long next = 0;
            for (List<Param> g : groups) {
                List<Long> gi = new ArrayList<>();
                for (Param p : g) {
                    shapes.put(next, p.shape());
                    gi.add(next++);
                }
                ids.add(gi);
            }
            return new Optimizer(ids, shapes);
        }

        @Override
        public String param(long id, Param p) {
            return java.util.Arrays.equals(shapes.get(id), p.shape()) ? null : "shape differs";
        }
    }

    private static List<List<Param>> trainer(List<Param> params, NormRule rule) {
        List<Param> decay = new ArrayList<>();
        List<Param> rest = new ArrayList<>();
        params.forEach(p -> (Family.noDecay(Family.DECODER, rule, p.name()) ? rest : decay).add(p));
        return List.of(decay, rest);
    }

    @Test
    void eachDecayRuleOfTheTrainerIsRecognisedByItsGroupSizes() throws ParamOrder.NoFit {
        for (NormRule rule : NormRule.values()) {
            List<List<Param>> groups = trainer(llama(), rule);
            Optimizer opt = Optimizer.of(groups);
            ParamOrder.Named named = ParamOrder.name(llama(), Family.DECODER, Set.of(), opt.ids, opt);
            long id = 0;
            for (List<Param> g : groups) {
                for (Param p : g) {
                    assertEquals(p.name(), named.byId().get(id++), rule + ": id " + (id - 1));
                }
            }
        }
    }

    @Test
    void aTiedHeadLeftOutOfNamedParametersIsFound() throws ParamOrder.NoFit {
        List<Param> untied = llama().stream().filter(p -> !p.name().equals("lm_head.weight")).toList();
        Optimizer opt = Optimizer.of(trainer(untied, NormRule.ALL_NORMS));
        ParamOrder.Named named = ParamOrder.name(llama(), Family.DECODER, Set.of("lm_head.weight"), opt.ids, opt);
        assertFalse(named.byId().containsValue("lm_head.weight"));
        assertTrue(named.grouping().contains("tied lm_head.weight left out"), named.grouping());
    }

    @Test
    void aFrozenParameterLeavesNoGroupingThatFits() {
        List<Param> trainable = llama().stream().filter(p -> !p.name().startsWith("model.embed_tokens")).toList();
        Optimizer opt = Optimizer.of(trainer(trainable, NormRule.ALL_NORMS));
        ParamOrder.NoFit e = assertThrows(ParamOrder.NoFit.class,
                () -> ParamOrder.name(llama(), Family.DECODER, Set.of(), opt.ids, opt));
        assertTrue(e.getMessage().contains("group 0 of the optimizer holds 15 parameters, this grouping 16"), e.getMessage());
    }

    @Test
    void aStateOfAnotherShapeIsRefusedNamingTheParameter() {
        List<List<Param>> groups = trainer(llama(), NormRule.ALL_NORMS);
        Optimizer opt = Optimizer.of(groups);
        opt.shapes.put(2L, new long[] {8, 4}); // model.layers.0.self_attn.k_proj.weight is [4, 8]
        ParamOrder.NoFit e = assertThrows(ParamOrder.NoFit.class,
                () -> ParamOrder.name(llama(), Family.DECODER, Set.of(), opt.ids, opt));
        assertTrue(e.getMessage().contains("parameter 2 (group 0, position 2) would be model.layers.0.self_attn.k_proj.weight [4, 8]"),
                e.getMessage());
    }

    @Test
    void oneGroupOfAllParametersIsRecognised() throws ParamOrder.NoFit {
        Optimizer opt = Optimizer.of(List.of(llama()));
        ParamOrder.Named named = ParamOrder.name(llama(), Family.DECODER, Set.of(), opt.ids, opt);
        assertEquals("one group of all 21 parameters", named.grouping());
        for (int i = 0; i < llama().size(); i++) {
            assertEquals(llama().get(i).name(), named.byId().get((long) i));
        }
    }

    @Test
    void theGenericRuleRecognisesCommonNormNames() {
        for (String n : List.of("encoder.blocks.0.ln.weight", "h.0.ln_1.weight", "x.final_layer_norm.weight", "x.norm.weight",
                "x.q_norm.weight", "x.LayerNorm.weight", "x.norm2.weight")) {
            assertTrue(Family.noDecay(null, NormRule.ALL_NORMS, n), n);
            assertFalse(Family.noDecay(null, NormRule.TORCH_NORMS, n), n);
        }
        assertFalse(Family.noDecay(null, NormRule.ALL_NORMS, "encoder.blocks.0.proj.weight"));
        assertFalse(Family.noDecay(null, NormRule.ALL_NORMS, "lnx.weight"));
    }

}
