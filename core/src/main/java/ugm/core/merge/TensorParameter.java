package ugm.core.merge;

/**
 * A merge parameter whose value may depend on the tensor: a constant, or any function of the
 * tensor's name (mergekit's filters and layer gradients are such functions). It is called once
 * per tensor while the merge is planned, so it may be slow-ish but must not fail; a value that is
 * out of range is reported as a plan problem naming the tensor.
 *
 * <p>Implementations must be safe to call from the thread that plans the merge; the ones ugm makes are immutable.
 */
@FunctionalInterface
public interface TensorParameter {

    /** The value for the tensor called {@code tensor}. */
    float valueFor(String tensor);

    /** The same value for every tensor. */
    static TensorParameter of(float value) {
        return new Constant(value);
    }

    /** A parameter that does not depend on the tensor; checked when the request is built. */
    record Constant(float value) implements TensorParameter {
        @Override
        public float valueFor(String tensor) {
            return value;
        }
    }
}
