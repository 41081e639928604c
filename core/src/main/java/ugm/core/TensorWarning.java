package ugm.core;

/**
 * Something a merge or a conversion tells about one tensor without stopping: NaN or infinite
 * inputs passed through, values beyond the range of the output dtype, elements where a method is
 * undefined and a documented fallback was used. {@link Object#toString()} is the warning's one line,
 * naming the tensor (e.g. {@code tensor 'w' in FILE: 3 NaN and 1 infinite input values}).
 *
 * <p>Implementations are immutable values, safe to pass between threads.
 */
public interface TensorWarning {
    /** The tensor's name. */
    String tensor();
}
