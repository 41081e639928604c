/**
 * The merge engine over abstract tensors: dtypes, {@link ugm.core.TensorSource} and
 * {@link ugm.core.TensorSink}, merge requests and plans ({@link ugm.core.merge.MergeRequest},
 * {@link ugm.core.merge.Merger}), the methods ({@link ugm.core.merge.methods.Method}), the chunk
 * executor and the kernel policy.
 *
 * <p>The vector kernels need {@code jdk.incubator.vector}: start the JVM with
 * {@code --add-modules jdk.incubator.vector}; without it the scalar kernels run, with one
 * {@link System.Logger} warning.
 */
module ugm.core {
    requires static jdk.incubator.vector;

    exports ugm.core;
    exports ugm.core.exec;
    exports ugm.core.kernel;
    exports ugm.core.merge;
    exports ugm.core.merge.methods;
}
