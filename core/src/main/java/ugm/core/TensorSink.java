package ugm.core;

import java.lang.foreign.MemorySegment;

/**
 * Where merged tensors go: the file writer, or memory a library user owns. The segment for a
 * tensor is exactly its byte size; producers on any thread may fill disjoint ranges of it.
 */
@FunctionalInterface
public interface TensorSink {
    /** The memory to write {@code tensor} into: exactly its byte size. */
    MemorySegment target(TensorInfo tensor);

    /**
     * A hint that the tensor is complete: a file-backed sink may drop its pages from the
     * process's resident memory (they are still written). The default does nothing.
     */
    default void release(TensorInfo tensor) {
    }
}
