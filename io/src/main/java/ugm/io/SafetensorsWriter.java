package ugm.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;

/**
 * Writes one safetensors file laid out as the reference writer does. The file is built in a
 * temporary file beside the target, mapped read-write; producers fill each tensor's slice (any
 * thread, any order); {@link #commit()} makes it durable and renames it onto the target.
 * {@link #close()} without a commit deletes the temporary: nothing half-written ever appears
 * under the target name.
 *
 * <p>Thread-safe: any threads may write tensors into their targets at once; {@link #commit()} and {@link #close()} are synchronized and must come after the writes.
 */
public final class SafetensorsWriter implements TensorSink, AutoCloseable {

    private enum State { OPEN, COMMITTED, CLOSED }

    private final Path target;
    private final Path temporary;
    private final SafetensorsLayout layout;
    private final Map<String, TensorEntry> byName;
    private final FileChannel channel;
    private final Arena arena;
    private final MemorySegment mapping;
    /** Starts the disk writes of finished tensors during the merge. */
    private final Writeback writeback;
    private volatile State state = State.OPEN;

    private SafetensorsWriter(Path target, Path temporary, SafetensorsLayout layout, FileChannel channel,
                              Arena arena, MemorySegment mapping) {
        this.target = target;
        this.temporary = temporary;
        this.layout = layout;
        this.channel = channel;
        this.arena = arena;
        this.mapping = mapping;
        this.writeback = Writeback.of(temporary);
        this.byName = HashMap.newHashMap(layout.entries().size());
        for (TensorEntry e : layout.entries()) {
            byName.put(e.name(), e);
        }
    }

    /**
     * Creates the temporary file for {@code target}, sized and with its header written.
     *
     * @param metadata written in iteration order; empty for no {@code __metadata__}
     * @throws IllegalArgumentException when the tensors cannot form a valid file
     * @throws ugm.core.UgmException    of kind IO when the file cannot be created or space reserved
     */
    public static SafetensorsWriter create(Path target, List<TensorInfo> tensors, Map<String, String> metadata) {
        SafetensorsLayout layout = SafetensorsLayout.of(tensors, metadata);
        Path absolute = target.toAbsolutePath();
        Path temporary = absolute.resolveSibling(OutputFolder.sideName(absolute.getFileName().toString(), "tmp",
                HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())));
        FileChannel channel = null;
        Arena arena = null;
        try {
            channel = Temporaries.create(temporary, () -> FileChannel.open(temporary, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE));
            long size = layout.fileSize();
            DiskSpace.allocate(temporary, channel, size);
            arena = Arena.ofShared();
            MemorySegment mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            mapping.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, layout.headerLength());
            MemorySegment.copy(layout.header(), 0, mapping, ValueLayout.JAVA_BYTE, 8, (int) layout.headerLength());
            return new SafetensorsWriter(target, temporary, layout, channel, arena, mapping);
        } catch (IOException e) {
            discard(temporary, channel, arena);
            throw Messages.io(target, "cannot create", e);
        } catch (RuntimeException | Error e) {
            discard(temporary, channel, arena);
            throw e;
        }
    }

    /** The final name, reached only by {@link #commit()}. */
    public Path path() {
        return target;
    }

    /** The temporary file being filled. */
    public Path temporaryPath() {
        return temporary;
    }

    /** The file's layout: its header and where each tensor lies. */
    public SafetensorsLayout layout() {
        return layout;
    }

    /**
     * The writable bytes of {@code tensor}, exactly its byte size, initially zero.
     *
     * @throws IllegalArgumentException when the tensor is not one this writer was created with
     * @throws IllegalStateException    after commit or close
     */
    @Override
    public MemorySegment target(TensorInfo tensor) {
        TensorEntry e = byName.get(tensor.name());
        if (e == null || !e.info().equals(tensor)) {
            throw new IllegalArgumentException(Messages.of(target.toString(), tensor.name(),
                    e == null ? "not one of the tensors this file was laid out for" : "declared as " + e.info() + ", asked as " + tensor));
        }
        return target(e.name());
    }

    /**
     * Drops the finished tensor's pages from this process's resident memory (they are still
     * written) and starts writing them to disk, so the commit's fsync has less left to do.
     */
    @Override
    public void release(TensorInfo tensor) {
        TensorEntry e = byName.get(tensor.name());
        if (state == State.OPEN && e != null) {
            Pages.release(target(tensor.name()));
            writeback.start(layout.dataStart() + e.begin(), e.byteSize());
        }
    }

    /** The writable bytes of the tensor called {@code name}. */
    public MemorySegment target(String name) {
        if (state != State.OPEN) {
            throw new IllegalStateException(Messages.of(target.toString(), name, "writer is " + state.name().toLowerCase()));
        }
        TensorEntry e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException(Messages.of(target.toString(), name, "not one of the tensors this file was laid out for"));
        }
        return mapping.asSlice(layout.dataStart() + e.begin(), e.byteSize());
    }

    /**
     * Flushes the data, syncs the file, renames it onto the target (atomically, replacing any
     * file there) and syncs the folder. On failure the temporary is deleted.
     *
     * @throws ugm.core.UgmException of kind IO when any step fails
     */
    public synchronized void commit() {
        if (state != State.OPEN) {
            throw new IllegalStateException(Messages.of(target.toString(), null, "writer is " + state.name().toLowerCase()));
        }
        writeback.close();
        try {
            mapping.force();
            arena.close();
            channel.force(true);
            channel.close();
            Temporaries.publishing(temporary, () -> {
                try {
                    Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("the file system cannot rename atomically", e);
                }
            });
            state = State.COMMITTED;
        } catch (IOException e) {
            state = State.CLOSED;
            discard(temporary, channel, arena);
            throw Messages.io(target, "cannot write", e);
        } catch (RuntimeException | Error e) {
            state = State.CLOSED;
            discard(temporary, channel, arena);
            throw e;
        }
        syncFolder(temporary.getParent());
    }

    /** Without a commit, unmaps and deletes the temporary file. Idempotent. */
    @Override
    public synchronized void close() {
        if (state == State.OPEN) {
            state = State.CLOSED;
            writeback.close();
            discard(temporary, channel, arena);
        }
    }

    private static void discard(Path temporary, FileChannel channel, Arena arena) {
        try {
            if (arena != null && arena.scope().isAlive()) {
                arena.close();
            }
        } catch (IllegalStateException stillInUse) {
            // Another thread is still writing; the file is deleted regardless.
        }
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // Closing is best effort; deletion below is what matters.
        }
        try {
            Temporaries.discarding(temporary, () -> Files.deleteIfExists(temporary));
        } catch (IOException ignored) {
            // Nothing else to do: the temporary's name marks it as debris.
        }
    }

    /** Makes a rename durable. Some platforms cannot open a folder for sync; then this is a no-op. */
    static void syncFolder(Path folder) {
        try (FileChannel dir = FileChannel.open(folder, StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException ignored) {
            // Unsupported here (e.g. Windows): the rename itself has happened.
        }
    }
}
