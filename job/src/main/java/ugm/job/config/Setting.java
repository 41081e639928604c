package ugm.job.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A parameter value as mergekit writes it: a scalar ({@code 0.5}, {@code true}), a layer gradient
 * ({@code [0, 0.5, 1]}: interpolated over the layer position t), or a filter list
 * ({@code [{filter: mlp, value: 0.5}, {value: 0}]}: the first entry whose filter is part of the
 * tensor name, or that has no filter, gives the value).
 *
 * <p>Implementations are immutable.
 */
public sealed interface Setting {

    /** The value for {@code tensor} at layer position {@code t}: a Double or Boolean, or null when no filter matches. */
    Object evaluate(String tensor, double t);

    /** The setting as YAML/JSON again. */
    JsonNode toNode();

    /** Whether the value is the same for every tensor. */
    default boolean isConstant() {
        return this instanceof Number || this instanceof Flag || this instanceof Whole;
    }

    record Number(double value) implements Setting {
        @Override
        public Object evaluate(String tensor, double t) {
            return value;
        }

        @Override
        public JsonNode toNode() {
            return JsonNodeFactory.instance.numberNode(value);
        }
    }

    /** A whole number read exactly, not through a double (a seed: 2^53 + 1 stays itself). */
    record Whole(long value) implements Setting {
        @Override
        public Object evaluate(String tensor, double t) {
            return value;
        }

        @Override
        public JsonNode toNode() {
            return JsonNodeFactory.instance.numberNode(value);
        }
    }

    record Flag(boolean value) implements Setting {
        @Override
        public Object evaluate(String tensor, double t) {
            return value;
        }

        @Override
        public JsonNode toNode() {
            return JsonNodeFactory.instance.booleanNode(value);
        }
    }

    /** mergekit's gradient: {@code x = t·(n − 1)}, linear between the values at floor(x) and the next one. */
    record Gradient(List<Double> values) implements Setting {
        public Gradient {
            values = List.copyOf(values);
        }

        @Override
        public Object evaluate(String tensor, double t) {
            int n = values.size();
            double scaled = t * (n - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(n - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * values.get(i0) + frac * values.get(i1);
        }

        @Override
        public JsonNode toNode() {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            values.forEach(a::add);
            return a;
        }
    }

    /** One entry of a filter list; a null (or "*") filter matches every tensor. */
    record Case(String filter, Setting value) {
        boolean matches(String tensor) {
            return filter == null || filter.equals("*") || tensor.contains(filter);
        }
    }

    record Filtered(List<Case> cases) implements Setting {
        public Filtered {
            cases = List.copyOf(cases);
        }

        @Override
        public Object evaluate(String tensor, double t) {
            for (Case c : cases) {
                if (c.matches(tensor)) {
                    return c.value.evaluate(tensor, t);
                }
            }
            return null;
        }

        @Override
        public JsonNode toNode() {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            for (Case c : cases) {
                ObjectNode o = a.addObject();
                if (c.filter != null) {
                    o.put("filter", c.filter);
                }
                o.set("value", c.value.toNode());
            }
            return a;
        }
    }

    /**
     * Reads a setting; {@code where} names it in errors (e.g. {@code models[2].parameters.weight}).
     *
     * @throws ConfigException when it is none of the forms above
     */
    static Setting parse(JsonNode node, String where) {
        if (node.isNumber()) {
            return new Number(finite(node, where));
        }
        if (node.isBoolean()) {
            return new Flag(node.booleanValue());
        }
        if (node.isObject()) {
            return new Filtered(List.of(parseCase(node, where)));
        }
        if (node.isArray() && !node.isEmpty()) {
            boolean numbers = true;
            boolean objects = true;
            for (JsonNode e : node) {
                numbers &= e.isNumber();
                objects &= e.isObject();
            }
            if (numbers) {
                List<Double> values = new ArrayList<>();
                for (JsonNode e : node) {
                    values.add(finite(e, where + "[" + values.size() + "]"));
                }
                return new Gradient(values);
            }
            if (objects) {
                List<Case> cases = new ArrayList<>();
                int i = 0;
                for (JsonNode e : node) {
                    cases.add(parseCase(e, where + "[" + i++ + "]"));
                }
                return new Filtered(cases);
            }
        }
        throw new ConfigException(where + " must be a number, true/false, a list of numbers (a layer gradient)"
                + " or a list of {filter, value} entries, not " + describe(node));
    }

    /** The value of a number node, which must be finite (1e400 reads as infinity). */
    private static double finite(JsonNode number, String where) {
        double v = number.doubleValue();
        if (!Double.isFinite(v)) {
            throw new ConfigException(where + " must be a finite number, not " + number.asText());
        }
        return v;
    }

    /**
     * Reads a whole number exactly, never through a double: a YAML integer, or a float whose
     * written value is whole ({@code 42.0}, as ugm versions before this one wrote seeds into
     * {@code ugm_config.yml}), within a 64-bit signed integer (the type of ugm's seeds).
     *
     * @throws ConfigException when it is not one
     */
    static Whole whole(JsonNode node, String where) {
        if (node.isIntegralNumber() || node.isBigDecimal()) {
            BigDecimal exact = node.decimalValue();
            if (exact.signum() == 0 || exact.stripTrailingZeros().scale() <= 0) {
                try {
                    return new Whole(exact.longValueExact());
                } catch (ArithmeticException outOfRange) {
                    throw new ConfigException(where + " must be a whole number from " + Long.MIN_VALUE + " to "
                            + Long.MAX_VALUE + ", not " + node.asText());
                }
            }
        }
        throw new ConfigException(where + " must be a whole number (such as 42), not " + describe(node));
    }

    private static Case parseCase(JsonNode node, String where) {
        Set<String> keys = Set.of("filter", "value");
        for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
            String k = it.next().getKey();
            if (!keys.contains(k)) {
                throw new ConfigException("unknown key '" + k + "' in " + where + Suggest.hint(k, keys));
            }
        }
        JsonNode value = node.get("value");
        if (value == null) {
            throw new ConfigException(where + " has no 'value'");
        }
        if (!(value.isNumber() || value.isBoolean() || value.isArray() && value.size() > 0 && allNumbers(value))) {
            throw new ConfigException(where + ".value must be a number, true/false or a list of numbers, not " + describe(value));
        }
        JsonNode filter = node.get("filter");
        if (filter != null && !filter.isTextual() && !filter.isNull()) {
            throw new ConfigException(where + ".filter must be text (part of a tensor name), not " + describe(filter));
        }
        return new Case(filter == null || filter.isNull() ? null : filter.textValue(), parse(value, where + ".value"));
    }

    private static boolean allNumbers(JsonNode array) {
        for (JsonNode e : array) {
            if (!e.isNumber()) {
                return false;
            }
        }
        return true;
    }

    static String describe(JsonNode node) {
        String s = node.isTextual() ? "'" + node.textValue() + "'" : node.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
