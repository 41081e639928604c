package ugm.core.merge;

/**
 * The element-wise pass of a method that first needs a whole-tensor quantity (a top-k threshold,
 * an L1 norm, a dot product): built once per tensor by {@link TensorPasses}, then applied to every
 * block by any worker. Implementations are immutable, so workers share them.
 */
interface ElementPass {
    /**
     * Writes elements {@code [from, from + n)} of the output into {@code out[0..n)}; the inputs are
     * the decoded blocks ({@code base}, {@code baseFisher} and {@code fishers} may be unused).
     */
    void apply(long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher, float[] out);
}
