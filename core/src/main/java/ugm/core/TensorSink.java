package ugm.core;

import java.lang.foreign.MemorySegment;

/**
 * Where merged tensors go: the file writer, or memory a library user owns. The segment for a
 * tensor is exactly its byte size; producers on any thread may fill disjoint ranges of it.
 */
@FunctionalInterface
public interface TensorSink {
    MemorySegment target(TensorInfo tensor);
}
