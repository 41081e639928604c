package ugm.core.merge.methods;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import ugm.core.merge.MergeMethod;
import ugm.core.merge.Parameter;

/** What every method states the same way: its name, summary, what it needs and the parameters it reads. */
abstract class AbstractMergeMethod implements MergeMethod {
    private final String id;
    private final String summary;
    private final boolean needsBase;
    private final boolean needsFishers;
    private final Set<Parameter> parameters;

    AbstractMergeMethod(String id, String summary, boolean needsBase, boolean needsFishers, Parameter... parameters) {
        this.id = id;
        this.summary = summary;
        this.needsBase = needsBase;
        this.needsFishers = needsFishers;
        this.parameters = Collections.unmodifiableSet(EnumSet.copyOf(List.of(parameters)));
    }

    @Override
    public final String id() {
        return id;
    }

    @Override
    public final String summary() {
        return summary;
    }

    @Override
    public final Set<Parameter> parameters() {
        return parameters;
    }

    @Override
    public final boolean needsBase() {
        return needsBase;
    }

    @Override
    public final boolean needsFishers() {
        return needsFishers;
    }
}
