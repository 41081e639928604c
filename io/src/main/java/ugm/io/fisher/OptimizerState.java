package ugm.io.fisher;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.io.TorchFile;
import ugm.io.TorchValue;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.IntValue;
import ugm.io.TorchValue.ListValue;
import ugm.io.TorchValue.StrValue;
import ugm.io.TorchValue.TensorValue;
import ugm.io.TorchValue.TupleValue;

/**
 * An optimizer's {@code state_dict()} as {@code torch.save} wrote it (the Trainer's
 * {@code optimizer.pt}): {@code {'state': {key: {...}}, 'param_groups': [{'params': [keys], ...}]}}.
 * Keys are integer ids ({@code torch.optim}: consecutive across the groups, in group order) or
 * parameter names (FSDP's full optimizer state dict).
 *
 * <p>Adam and AdamW keep {@code exp_avg_sq} and {@code step} per parameter and {@code betas} per
 * group. IVON keeps its Hessian estimate per group: {@code hess}, the group's parameters flattened
 * and concatenated in order, beside {@code numel}, {@code ess}, {@code beta2}, ...
 */
final class OptimizerState {

    /** One param group: its parameter keys (Long ids or String names) and settings. */
    record Group(int index, List<Object> params, DictValue settings) {
        /** β2 of Adam's {@code betas} or IVON's {@code beta2}; NaN when absent. */
        double beta2() {
            TorchValue betas = settings.get("betas");
            if (betas instanceof TupleValue(List<TorchValue> items) && items.size() == 2) {
                return Values.number(items.get(1));
            }
            if (betas instanceof ListValue(List<TorchValue> items) && items.size() == 2) {
                return Values.number(items.get(1));
            }
            TorchValue b2 = settings.get("beta2");
            return b2 == null ? Double.NaN : Values.number(b2);
        }

        double number(String key) {
            TorchValue v = settings.get(key);
            return v == null ? Double.NaN : Values.number(v);
        }
    }

    final TorchFile file;
    final String path;
    final List<Group> groups;
    /** Per-parameter state by key (Long or String), in the file's order. */
    final Map<Object, DictValue> state;
    final boolean ivon;
    final boolean byName;
    private final Map<Object, Group> groupByKey = new java.util.HashMap<>();

    private OptimizerState(TorchFile file, List<Group> groups, Map<Object, DictValue> state, boolean ivon, boolean byName) {
        this.file = file;
        this.path = file.path().toString();
        this.groups = groups;
        groups.forEach(g -> g.params.forEach(k -> groupByKey.put(k, g)));
        this.state = state;
        this.ivon = ivon;
        this.byName = byName;
    }

    /** Reads the state of an opened file; the file stays open (its tensors are mapped). */
    static OptimizerState of(TorchFile file) {
        String path = file.path().toString();
        if (!(file.root() instanceof DictValue root) || !(root.get("param_groups") instanceof ListValue groupList)) {
            throw Values.invalid(path, null, "holds a " + file.root().typeName()
                    + ", not an optimizer's state_dict (a dict with 'state' and 'param_groups')");
        }
        TorchValue stateValue = root.get("state");
        if (!(stateValue instanceof DictValue stateDict)) {
            throw Values.invalid(path, null, "not an optimizer's state_dict: 'state' is "
                    + (stateValue == null ? "missing" : "a " + stateValue.typeName()));
        }
        List<Group> groups = new ArrayList<>();
        Set<Object> seen = new HashSet<>();
        boolean ids = false;
        boolean names = false;
        boolean ivon = false;
        for (int g = 0; g < groupList.items().size(); g++) {
            if (!(groupList.items().get(g) instanceof DictValue group) || !(group.get("params") instanceof ListValue params)) {
                throw Values.invalid(path, null, "param group " + g + " is not a dict with a list 'params'");
            }
            List<Object> keys = new ArrayList<>();
            for (TorchValue p : params.items()) {
                Object key = switch (p) {
                    case IntValue i -> i.value();
                    case StrValue s -> s.value();
                    default -> throw Values.invalid(path, null, "param group " + g + " lists a " + p.typeName()
                            + " among its params (ids or names expected)");
                };
                if (!seen.add(key)) {
                    throw Values.invalid(path, null, "parameter " + key + " is listed twice in the param groups");
                }
                ids |= key instanceof Long;
                names |= key instanceof String;
                keys.add(key);
            }
            ivon |= group.get("hess") != null;
            groups.add(new Group(g, List.copyOf(keys), group));
        }
        if (ids && names) {
            throw Values.invalid(path, null, "the param groups mix integer ids and names");
        }
        Map<Object, DictValue> state = new LinkedHashMap<>();
        for (Map.Entry<TorchValue, TorchValue> e : stateDict.entries().entrySet()) {
            Object key = switch (e.getKey()) {
                case IntValue i -> i.value();
                case StrValue s -> s.value();
                default -> null;
            };
            if (key == null || !(e.getValue() instanceof DictValue d)) {
                continue; // IVON keeps count, avg_grad, ... here under string keys; they are not per-parameter
            }
            if (!seen.contains(key)) {
                throw Values.invalid(path, String.valueOf(key), "has state but is in no param group");
            }
            state.put(key, d);
        }
        return new OptimizerState(file, List.copyOf(groups), state, ivon, names);
    }

    /** The ids of each group (for {@link ParamOrder}); only for states keyed by ids. */
    List<List<Long>> groupIds() {
        List<List<Long>> out = new ArrayList<>();
        for (Group g : groups) {
            out.add(g.params.stream().map(k -> (Long) k).toList());
        }
        return out;
    }

    /** The group that lists {@code key}. */
    Group groupOf(Object key) {
        return groupByKey.get(key);
    }

    /** {@code exp_avg_sq} of the parameter, or null when it has no state; an error when its state has none. */
    TensorValue expAvgSq(Object key, String name) {
        DictValue s = state.get(key);
        if (s == null) {
            return null;
        }
        if (!(s.get("exp_avg_sq") instanceof TensorValue t)) {
            List<String> keys = new ArrayList<>();
            s.entries().keySet().forEach(k -> keys.add(k instanceof StrValue(String v) ? v : k.toString()));
            throw Values.invalid(path, name, "its optimizer state has no exp_avg_sq tensor (keys: " + String.join(", ", keys)
                    + "): not an Adam/AdamW state");
        }
        return t;
    }

    /** The parameter's {@code step}: NaN when its state records none. */
    double step(Object key) {
        DictValue s = state.get(key);
        TorchValue v = s == null ? null : s.get("step");
        return v == null ? Double.NaN : Values.number(v);
    }
}
