package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import ugm.core.DType;

/**
 * What an implementation of the kernels provides: the operations of {@link Kernels} without their
 * argument checks, which the facade has already made. Two implementations: {@link ScalarKernels}
 * (plain loops over {@link Formulas}) and {@link VectorKernels} (the Vector API, whose tails are
 * those same loops). Implementations are stateless and thread-safe.
 */
interface KernelSupport {

    /** What this implementation is, e.g. {@code "scalar"} or {@code "vector-256"}. */
    String name();

    void decode(DType type, MemorySegment src, long off, float[] dst, int n);

    void encode(float[] src, int n, DType type, MemorySegment dst, long off);

    void linear(float[][] x, float[] w, float[] out, int n);

    void taskArithmetic(float[] base, float[][] x, float[] a, float[] out, int n);

    void taskVectors(TaskVectors p, float[] base, float[][] x, boolean[][] kept, float[] out, int n);

    long gradientMatching(GradientMatching p, float[] base, float[] baseFisher, float[][] x, float[][] fisher, float[] out, int n);

    /** Called only for operands of BF16, F16 or F32: {@link Kernels#gradientMatchingDirect}'s count, or -1. */
    long gradientMatchingDirect(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                                   Kernels.Operand[] fisher, Kernels.Operand out, long from, int n);

    /** Called only for operands of BF16, F16 or F32; {@code base} null for linear, else task arithmetic. */
    boolean linearDirect(Kernels.Operand base, Kernels.Operand[] x, float[] w, Kernels.Operand out, long from, int n);

    void fisher(float[][] x, float[][] fisher, float[] a, float[] s, float floor, float[] out, int n);

    void fisherWithBase(float[] base, float[] baseFisher, float s0, float[][] x, float[][] fisher, float[] a, float[] s,
                        float floor, float[] out, int n);

    int indexOfNegativeOrNaN(float[] x, int n);

    int countNonFinite(float[] x, int n);

    int countNonFiniteAs(DType type, float[] x, int n);

    /** Elements one iteration of the direct kernel covers (1 for plain loops): the warm-up sizes its calls by it. */
    int warmUpStep();
}
