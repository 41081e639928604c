package ugm.core.kernel;

/**
 * The direct vector kernels, which {@link WarmUp} compiles one at a time: a merge warms up the
 * one its method most likely uses at once, and another only once a merge asks for it (C2's time
 * on a kernel the merge never calls is a fixed cost a small merge would pay for nothing). Each
 * is a compiled method of its own, so each is warmed up on its own.
 */
public enum DirectKernel {
    /** {@link Kernels#gradientMatchingDirect} where every operand and the output are BF16 (the common case) and no task is subtracted. */
    GRADIENT_MATCHING_BF16,
    /** {@link Kernels#gradientMatchingDirect} on any other mix of BF16, F16 and F32, and removal (a task subtracted) on any. */
    GRADIENT_MATCHING,
    /** {@link Kernels#linearDirect} and {@link Kernels#taskArithmeticDirect}: one kernel, with and without a base. */
    LINEAR
}
