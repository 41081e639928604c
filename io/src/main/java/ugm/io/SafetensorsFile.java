package ugm.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsException.Rule;

/**
 * One safetensors file, mapped read-only whole. Tensor data are zero-copy slices of the mapping,
 * valid until {@link #close()}, which unmaps the file. Safe for concurrent reads.
 *
 * <p>Thread-safe for reads: any number of threads may read tensors at once; {@link #close()} must not race them.
 */
public final class SafetensorsFile implements CheckpointFile {

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final SafetensorsHeader header;
    private final Map<String, TensorEntry> byName;
    private final List<TensorInfo> infos;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The file's identity when it was opened, to tell a change (see {@link #changedOnDisk()}). */
    private final FileIdentity identity;

    private SafetensorsFile(Path path, FileIdentity identity, Arena arena, MemorySegment mapping, SafetensorsHeader header) {
        this.path = path;
        this.identity = identity;
        this.arena = arena;
        this.mapping = mapping;
        this.header = header;
        this.byName = HashMap.newHashMap(header.entries().size());
        for (TensorEntry e : header.entries()) {
            byName.put(e.name(), e);
        }
        this.infos = header.entries().stream().map(TensorEntry::info).toList();
    }

    /**
     * Maps and validates the file.
     *
     * @throws SafetensorsException when the file breaks a rule of the format
     * @throws ugm.core.UgmException of kind IO when it cannot be read
     */
    public static SafetensorsFile open(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            FileIdentity identity = FileIdentity.of(path);
            long size = channel.size();
            if (size < 8) {
                throw new SafetensorsException(Rule.FILE_TOO_SHORT, path.toString(),
                        "file has " + size + " bytes, fewer than the 8 of the header length");
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return new SafetensorsFile(path, identity, arena, mapping, SafetensorsHeader.parse(mapping, path.toString()));
            } catch (RuntimeException | IOException | Error e) {
                arena.close();
                throw e;
            }
        } catch (IOException e) {
            throw Messages.io(path, "cannot read", e);
        }
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public String format() {
        return Checkpoint.SAFETENSORS;
    }

    /** The parsed header. */
    public SafetensorsHeader header() {
        return header;
    }

    /** N: the JSON header's length in bytes, padding included. */
    public long headerLength() {
        return header.headerLength();
    }

    /** Where the data region starts: 8 + N. */
    public long dataStart() {
        return header.dataStart();
    }

    /** The tensors in the order their data lie in the file. */
    public List<TensorEntry> entries() {
        return header.entries();
    }

    /** The entry called {@code name}, or null. */
    public TensorEntry entry(String name) {
        return byName.get(name);
    }

    /** {@code __metadata__}, unmodifiable, keys in file order; empty when the file has none. */
    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    @Override
    public String describe() {
        return path.toString();
    }

    @Override
    public List<TensorInfo> tensors() {
        return infos;
    }

    @Override
    public TensorInfo info(String name) {
        TensorEntry e = byName.get(name);
        return e == null ? null : e.info();
    }

    /**
     * The tensor's bytes: a read-only slice of the mapping, no copy.
     *
     * @throws IllegalArgumentException when the file has no such tensor
     */
    @Override
    public MemorySegment data(String name) {
        TensorEntry e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException(Messages.of(describe(), name, "no such tensor in this file"));
        }
        return data(e);
    }

    /** Drops the tensor's pages from this process's resident memory; they stay readable. */
    @Override
    public void release(String name) {
        TensorEntry e = byName.get(name);
        if (e != null) {
            Pages.release(data(e));
        }
    }

    /** The bytes of one of this file's entries. */
    public MemorySegment data(TensorEntry e) {
        if (!e.equals(byName.get(e.name()))) {
            throw new IllegalArgumentException(Messages.of(describe(), e.name(), "not an entry of this file: " + e));
        }
        return mapping.asSlice(header.dataStart() + e.begin(), e.byteSize()).asReadOnly();
    }

    /**
     * Whether the file on disk is no longer the one opened: gone, another file under the name,
     * another size, or written since (its modification or status-change time moved), in place
     * at the same size included. Reads of a truncated mapping fault (see
     * {@link ugm.core.TensorSource#changedFile}); a rewrite in place shows through the mapping, so
     * callers ask this before they trust what they read.
     */
    @Override
    public boolean changedOnDisk() {
        return identity == null || identity.size() != mapping.byteSize() || !identity.equals(FileIdentity.of(path));
    }

    @Override
    public String changedFile(String name) {
        return changedOnDisk() ? path.toString() : null;
    }

    /** Unmaps the file; segments handed out become inaccessible. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
