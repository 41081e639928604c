package ugm.core.merge.methods;

import ugm.core.merge.Parameter;

/**
 * A method between the base and exactly one other model (slerp, nearswap). mergekit lists the
 * base among such a method's two models; that entry is the base.
 */
abstract class BaseAndOneModel extends AbstractMergeMethod {
    BaseAndOneModel(String id, String summary, Parameter... parameters) {
        super(id, summary, true, false, parameters);
    }

    @Override
    public final boolean baseAmongModels() {
        return true;
    }

    @Override
    public final String modelCountProblem(int models, boolean base) {
        return models == 1 ? null : id() + " takes the base and exactly one other model, not " + models;
    }
}
