package ugm.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import ugm.core.TensorInfo;

/**
 * One file of a base checkpoint seen through a LoRA adapter: the same tensors, those the adapter
 * changes computed by it ({@link LoraAdapter#data}), the others the file's own mapped bytes.
 */
final class AdaptedFile implements CheckpointFile {
    private final CheckpointFile base;
    private final LoraAdapter adapter;

    AdaptedFile(CheckpointFile base, LoraAdapter adapter) {
        this.base = base;
        this.adapter = adapter;
    }

    @Override
    public Path path() {
        return base.path();
    }

    @Override
    public String format() {
        return base.format();
    }

    @Override
    public Map<String, String> metadata() {
        return base.metadata();
    }

    @Override
    public boolean changedOnDisk() {
        return base.changedOnDisk();
    }

    @Override
    public String describe() {
        return base.describe();
    }

    @Override
    public List<TensorInfo> tensors() {
        return base.tensors();
    }

    @Override
    public TensorInfo info(String name) {
        return base.info(name);
    }

    @Override
    public MemorySegment data(String name) {
        return adapter.adapts(name) && base.info(name) != null ? adapter.data(name, base) : base.data(name);
    }

    @Override
    public void release(String name) {
        if (adapter.adapts(name)) {
            adapter.release(name);
        } else {
            base.release(name);
        }
    }

    @Override
    public String changedFile(String name) {
        String changed = base.changedFile(name);
        return changed != null || !adapter.adapts(name) ? changed : adapter.changedFile();
    }

    @Override
    public void close() {
        base.close();
    }
}
