package ugm.job.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class SettingTest {
    private static Setting parse(String yaml) throws Exception {
        return Setting.parse(new YAMLMapper().readTree(yaml), "p");
    }

    @Test
    void gradientsInterpolateBetweenNeighbouringValues() throws Exception {
        Setting g = parse("[0, 0.5, 1, 0.5, 0]");
        // 5 values over t in [0, 1]: anchors at t = 0, 0.25, 0.5, 0.75, 1.
        assertEquals(0.0, (Double) g.evaluate("x", 0), 1e-12);
        assertEquals(0.25, (Double) g.evaluate("x", 0.125), 1e-12);
        assertEquals(1.0, (Double) g.evaluate("x", 0.5), 1e-12);
        assertEquals(0.4, (Double) g.evaluate("x", 0.8), 1e-12); // 0.2 of the way from 0.5 to 0
        assertEquals(0.0, (Double) g.evaluate("x", 1), 1e-12);
        assertEquals(7.0, (Double) parse("[7]").evaluate("x", 0.6), 0);
    }

    @Test
    void theFirstMatchingFilterWinsAndNoMatchGivesNothing() throws Exception {
        Setting f = parse("[{filter: mlp, value: 0.5}, {filter: self_attn, value: [0, 1]}]");
        assertEquals(0.5, f.evaluate("model.layers.3.mlp.up_proj.weight", 0.2));
        assertEquals(0.25, (Double) f.evaluate("model.layers.1.self_attn.q_proj.weight", 0.25), 1e-12);
        assertNull(f.evaluate("model.norm.weight", 1));
        assertEquals(2.0, parse("[{filter: mlp, value: 1}, {value: 2}]").evaluate("lm_head.weight", 1));
        assertEquals(3.0, parse("[{filter: '*', value: 3}]").evaluate("anything", 0));
    }

    @Test
    void layerPositionsFollowMergekit() {
        LayerPosition p = LayerPosition.of(List.of("model.embed_tokens.weight", "model.layers.0.mlp.w", "model.layers.4.mlp.w",
                "transformer.h.2.attn.w", "lm_head.weight"));
        assertEquals(5, p.layers());
        assertEquals(0.5, p.t("model.layers.2.mlp.w"));
        assertEquals(0.0, p.t("model.embed_tokens.weight"));
        assertEquals(0.0, p.t("transformer.wte.weight"));
        assertEquals(0.0, p.t("model.norm.weight"));
        assertEquals(0.0, p.t("lm_head.weight"));
        assertEquals(0.0, p.t("transformer.ln_f.weight"));
        assertEquals(1.0, p.t("model.layers.4.mlp.w"));
        assertEquals(1.0, LayerPosition.of(List.of("model.layers.0.w")).t("model.layers.0.w"));
    }

    @Test
    void malformedSettingsAreNamed() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("[1, {value: 2}]"));
        assertTrue(e.getMessage().startsWith("p must be a number"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> parse("[{filter: mlp}]"));
        assertTrue(e.getMessage().contains("p[0] has no 'value'"), e.getMessage());
    }

    @Test
    void suggestionsAreNearAndOnlyNear() {
        assertEquals("weight", Suggest.nearest("wieght", List.of("weight", "density", "lambda")));
        assertEquals("base_fisher_scale", Suggest.nearest("base_fisher_scal", List.of("fisher_scale", "base_fisher_scale")));
        assertNull(Suggest.nearest("tokenizer", List.of("weight", "lambda")));
    }
}
