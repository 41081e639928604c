package ugm.core;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A read-only set of named tensors whose data are memory segments: a checkpoint on disk, or
 * tensors a library user holds in memory. Implementations must allow concurrent reads.
 */
public interface TensorSource {

    /** What to call this source in messages, e.g. the checkpoint's path. */
    String describe();

    /** Every tensor, in the order their data lie in storage. */
    List<TensorInfo> tensors();

    /** The tensor called {@code name}, or null when there is none. */
    TensorInfo info(String name);

    /** The tensor's bytes (little-endian elements), exactly {@link TensorInfo#byteSize()} long. */
    MemorySegment data(String name);

    /**
     * A hint that the caller is done with the tensor's bytes for now: a file-backed source may
     * drop them from the process's resident memory (they stay readable). The default does nothing.
     */
    default void release(String name) {
    }

    /** Where the named tensor lives, for messages (the file of its shard); defaults to {@link #describe()}. */
    default String locate(String name) {
        return describe();
    }

    /**
     * The file holding the named tensor when it changed on disk since this source was opened
     * (truncated or replaced), else null. The merge engine asks after a mapped read failed, to
     * name the culprit; sources not backed by files keep the default.
     */
    default String changedFile(String name) {
        return null;
    }
}
