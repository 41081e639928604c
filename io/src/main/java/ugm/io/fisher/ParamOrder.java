package ugm.io.fisher;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.io.fisher.Family.NormRule;

/**
 * Names the parameters of an optimizer state keyed by integer ids. {@code torch.optim} numbers
 * the parameters of its groups consecutively, group by group, and saves no names; the Hugging Face
 * Trainer builds two groups (create_optimizer): the parameters that get weight decay, then the
 * rest, each in {@code model.named_parameters()} order, leaving out those that do not require
 * gradients.
 *
 * <p>From an order of the model's parameters (rebuilt by {@link Family}, or given), this tries
 * every grouping a training run may have used: the Trainer's two groups under each rule of which
 * norms decay ({@link NormRule}), or one group of all parameters (an optimizer built on
 * {@code model.parameters()}, as IVON usually is); each with and without the output embedding that
 * named_parameters() leaves out when it is tied to the input embedding. A grouping is accepted
 * only when it has as many groups as the optimizer, each of the optimizer's size, and every
 * parameter fits the state stored for its id ({@link Fit}: Adam's state tensors have the
 * parameter's shape; IVON's flat vectors the group's element count). All the groupings that fit
 * must name the ids alike, else the order is ambiguous and nothing is named.
 *
 * <p>What this cannot see: two parameters of one shape in swapped places. The family tables and
 * a given order carry that; the checks catch a model that is not what its family describes, a
 * changed grouping, or parameters left out (frozen).
 */
final class ParamOrder {

    /** A parameter of the model: its name and shape. */
    record Param(String name, long[] shape) {
        long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    /** How the stored state of one optimizer id fits a parameter. */
    interface Fit {
        /** Null when the state of {@code id} can be that of {@code p}; else why not. */
        String param(long id, Param p);

        /** Null when group {@code g} can hold exactly {@code params}; else why not. */
        default String group(int g, List<Param> params) {
            return null;
        }
    }

    /** The names found, and how: a phrase for the report. */
    record Named(Map<Long, String> byId, String grouping) {
    }

    /** No grouping fits; {@code reason} says why the most plausible one does not. */
    static final class NoFit extends Exception {
        private static final long serialVersionUID = 1L;

        NoFit(String reason) {
            super(reason, null, false, false);
        }
    }

    private record Candidate(String grouping, List<List<Param>> groups) {
    }

    private ParamOrder() {
    }

    /**
     * Names the optimizer's ids.
     *
     * @param order      the model's parameters in named_parameters() order (buffers and integer tensors left out)
     * @param family     the family whose norms the decay rule knows; null for the generic rule
     * @param tiedNames  names that may be tied to an earlier parameter (then not in named_parameters())
     * @param groupIds   the ids of each optimizer group, in order
     * @throws NoFit when no grouping fits, or those that fit disagree
     */
    static Named name(List<Param> order, Family family, Set<String> tiedNames, List<List<Long>> groupIds, Fit fit) throws NoFit {
        List<Candidate> candidates = candidates(order, family, tiedNames);
        List<Candidate> fitting = new ArrayList<>();
        List<Map<Long, String>> namings = new ArrayList<>();
        String closest = null;
        int closestStage = -1;
        for (Candidate c : candidates) {
            int[] stage = new int[1];
            String why = check(c, groupIds, fit, stage);
            if (why == null) {
                fitting.add(c);
                namings.add(naming(c, groupIds));
            } else if (stage[0] > closestStage) {
                closest = c.grouping + ": " + why;
                closestStage = stage[0];
            }
        }
        if (fitting.isEmpty()) {
            throw new NoFit(closest);
        }
        for (int i = 1; i < namings.size(); i++) {
            if (!namings.get(i).equals(namings.get(0))) {
                throw new NoFit("two groupings fit and name the ids differently (" + fitting.get(0).grouping + "; "
                        + fitting.get(i).grouping + "), so the order is ambiguous");
            }
        }
        return new Named(namings.get(0), fitting.get(0).grouping);
    }

    private static List<Candidate> candidates(List<Param> order, Family family, Set<String> tiedNames) {
        List<Candidate> out = new ArrayList<>();
        List<List<Param>> orders = new ArrayList<>();
        orders.add(order);
        List<Param> untied = order.stream().filter(p -> !tiedNames.contains(p.name())).toList();
        if (untied.size() != order.size()) {
            orders.add(untied);
        }
        for (List<Param> o : orders) {
            String tie = o.size() == order.size() ? "" : ", tied " + String.join(", ", tiedNames.stream().sorted().toList()) + " left out";
            Map<String, List<List<Param>>> seen = new LinkedHashMap<>();
            for (NormRule rule : NormRule.values()) {
                List<Param> decay = new ArrayList<>();
                List<Param> rest = new ArrayList<>();
                for (Param p : o) {
                    (Family.noDecay(family, rule, p.name()) ? rest : decay).add(p);
                }
                List<List<Param>> groups = List.of(decay, rest);
                String key = names(groups);
                if (!seen.containsKey(key)) {
                    seen.put(key, groups);
                    out.add(new Candidate("Trainer groups (" + decay.size() + " with weight decay, " + rest.size()
                            + " without" + ruleNote(rule, family) + tie + ")", groups));
                }
            }
            out.add(new Candidate("one group of all " + o.size() + " parameters" + tie, List.of(o)));
        }
        return out;
    }

    private static String ruleNote(NormRule rule, Family family) {
        return switch (rule) {
            case ALL_NORMS -> "";
            case NAMED_NORMS -> "; only norms named layernorm/rmsnorm without decay";
            case TORCH_NORMS -> family == null ? "; norms decay" : "; only torch LayerNorms without decay";
        };
    }

    private static String names(List<List<Param>> groups) {
        StringBuilder sb = new StringBuilder();
        for (List<Param> g : groups) {
            sb.append('|');
            g.forEach(p -> sb.append(p.name()).append(','));
        }
        return sb.toString();
    }

    /** Null when the candidate fits; {@code stage[0]} tells how far it got (0 groups, 1 sizes, 2 states). */
    private static String check(Candidate c, List<List<Long>> groupIds, Fit fit, int[] stage) {
        stage[0] = 0;
        if (c.groups.size() != groupIds.size()) {
            return "the optimizer has " + groupIds.size() + " group(s), this grouping " + c.groups.size();
        }
        stage[0] = 1;
        for (int g = 0; g < groupIds.size(); g++) {
            if (c.groups.get(g).size() != groupIds.get(g).size()) {
                return "group " + g + " of the optimizer holds " + groupIds.get(g).size() + " parameters, this grouping "
                        + c.groups.get(g).size();
            }
        }
        stage[0] = 2;
        for (int g = 0; g < groupIds.size(); g++) {
            String why = fit.group(g, c.groups.get(g));
            if (why != null) {
                return "group " + g + ": " + why;
            }
            for (int k = 0; k < groupIds.get(g).size(); k++) {
                Param p = c.groups.get(g).get(k);
                why = fit.param(groupIds.get(g).get(k), p);
                if (why != null) {
                    return "parameter " + groupIds.get(g).get(k) + " (group " + g + ", position " + k + ") would be "
                            + p.name() + " " + Arrays.toString(p.shape()) + ", but " + why;
                }
            }
        }
        return null;
    }

    private static Map<Long, String> naming(Candidate c, List<List<Long>> groupIds) {
        Map<Long, String> m = new HashMap<>();
        for (int g = 0; g < groupIds.size(); g++) {
            for (int k = 0; k < groupIds.get(g).size(); k++) {
                m.put(groupIds.get(g).get(k), c.groups.get(g).get(k).name());
            }
        }
        return m;
    }
}
