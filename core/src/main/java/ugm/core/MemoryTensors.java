package ugm.core;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link TensorSource} over memory segments the caller owns (and keeps alive), for servers
 * that hold weights in memory. Tensors keep the order they were added in.
 *
 * <p>Not thread-safe while tensors are being added; once filled and handed to a merge, it is only read, from any number of threads.
 */
public final class MemoryTensors implements TensorSource {
    private final String description;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();
    private final Map<String, MemorySegment> data = new LinkedHashMap<>();

    /** An empty source; {@code description} names it in messages. */
    public MemoryTensors(String description) {
        this.description = description;
    }

    /** Adds a tensor; {@code bytes} must be exactly its size. */
    public MemoryTensors add(String name, DType dtype, long[] shape, MemorySegment bytes) {
        TensorInfo info = new TensorInfo(name, dtype, shape);
        if (bytes.byteSize() != info.byteSize()) {
            throw new IllegalArgumentException(name + ": " + bytes.byteSize() + " bytes given, " + info.byteSize() + " needed");
        }
        if (infos.putIfAbsent(name, info) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice to " + description);
        }
        data.put(name, bytes);
        return this;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public List<TensorInfo> tensors() {
        return Collections.unmodifiableList(new ArrayList<>(infos.values()));
    }

    @Override
    public TensorInfo info(String name) {
        return infos.get(name);
    }

    @Override
    public MemorySegment data(String name) {
        MemorySegment s = data.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + description);
        }
        return s.asReadOnly();
    }
}
