package ugm.core.kernel;

/**
 * The direct vector kernels, which {@link WarmUp} compiles one at a time: a merge warms up the
 * one its method uses, and no other (C2's time on a kernel the merge never calls is a fixed cost
 * a small merge would pay for nothing).
 */
public enum DirectKernel {
    /** {@link Kernels#gradientMatchingDirect}. */
    GRADIENT_MATCHING,
    /** {@link Kernels#linearDirect} and {@link Kernels#taskArithmeticDirect}: one kernel, with and without a base. */
    LINEAR
}
