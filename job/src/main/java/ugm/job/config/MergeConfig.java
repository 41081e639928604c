package ugm.job.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.merge.Parameter;
import ugm.core.merge.methods.Method;

/**
 * A merge as the config (or the flags) describes it, paths resolved: the mergekit schema for
 * ugm's methods plus the gradient-matching keys ({@code fisher}, {@code base_fisher}).
 *
 * <p>Immutable.
 *
 * @param dtype           mergekit's compute dtype as written (ugm computes in float32 whatever it says;
 *                        it is the output dtype when {@code outDtype} is absent, as in mergekit)
 * @param tokenizerSource null or {@code base}
 */
public record MergeConfig(Method method, Path base, Path baseFisher, List<Model> models, Map<String, Setting> parameters,
                          String dtype, String outDtype, String tokenizerSource) {

    /** One entry of {@code models}. */
    public record Model(Path path, Path fisher, Map<String, Setting> parameters) {
        public Model {
            parameters = Map.copyOf(parameters);
        }
    }

    public MergeConfig {
        models = List.copyOf(models);
        parameters = Map.copyOf(parameters);
    }

    private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            .build());

    /** The config as YAML that {@code ugm merge} reads back to the same merge (absolute paths). */
    public String toYaml() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("merge_method", method.id());
        if (base != null) {
            root.put("base_model", base.toString());
        }
        if (baseFisher != null) {
            root.put("base_fisher", baseFisher.toString());
        }
        var list = root.putArray("models");
        for (Model m : models) {
            ObjectNode e = list.addObject();
            e.put("model", m.path.toString());
            if (m.fisher != null) {
                e.put("fisher", m.fisher.toString());
            }
            if (!m.parameters.isEmpty()) {
                e.set("parameters", node(m.parameters));
            }
        }
        if (!parameters.isEmpty()) {
            root.set("parameters", node(parameters));
        }
        if (dtype != null) {
            root.put("dtype", dtype);
        }
        if (outDtype != null) {
            root.put("out_dtype", outDtype);
        }
        if (tokenizerSource != null) {
            root.put("tokenizer_source", tokenizerSource);
        }
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parameters in catalogue order, then any others (mergekit's) by name: stable output. */
    private static ObjectNode node(Map<String, Setting> params) {
        Map<String, Setting> ordered = new LinkedHashMap<>();
        for (Parameter p : Parameter.values()) {
            if (params.containsKey(p.key())) {
                ordered.put(p.key(), params.get(p.key()));
            }
        }
        params.keySet().stream().sorted().forEach(k -> ordered.putIfAbsent(k, params.get(k)));
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ordered.forEach((k, v) -> o.set(k, v.toNode()));
        return o;
    }
}
