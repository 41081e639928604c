package ugm.core.merge.sparsify;

/** A tensor-sized sequence of floats read block by block (a task vector, an update), never held whole. */
@FunctionalInterface
public interface Values {
    /** Writes elements {@code [from, from + n)} into {@code out[0..n)}. */
    void read(long from, int n, float[] out);
}
