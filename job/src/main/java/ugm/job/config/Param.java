package ugm.job.config;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import ugm.core.merge.Parameter;

/** The parameter names a config may use beyond ugm's own ({@link Parameter}): mergekit's that ugm does not need. */
final class Param {
    /** mergekit parameters ugm does not need (int8_mask): accepted, ignored with a warning. */
    static final Set<String> MERGEKIT_ONLY = Set.of("int8_mask");
    /** Of those, the ones given per model. */
    static final Set<String> MERGEKIT_PER_MODEL = Set.of();

    private Param() {
    }

    /** Every parameter name a config may use: ugm's and mergekit's. */
    static Set<String> allKeys() {
        Set<String> s = new TreeSet<>(MERGEKIT_ONLY);
        Arrays.stream(Parameter.values()).forEach(p -> s.add(p.key()));
        return s;
    }
}
