package ugm.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;

/**
 * Writes a checkpoint folder: {@code model.safetensors} when everything fits one shard, else
 * {@code model-00001-of-0000N.safetensors} ... plus {@code model.safetensors.index.json} as the
 * Hugging Face libraries write it. Each shard goes through a {@link SafetensorsWriter} with the
 * same metadata; nothing appears under a final name before {@link #commit()}.
 *
 * <p>Thread-safe: any threads may write tensors into their targets at once; {@link #commit()} and {@link #close()} are synchronized and must come after the writes.
 */
public final class ShardedWriter implements TensorSink, AutoCloseable {

    /** The bytes of tensor data per shard unless told otherwise (5 GB, as Hugging Face writes). */
    public static final long DEFAULT_MAX_SHARD_SIZE = 5_000_000_000L;

    private final Path folder;
    private final List<SafetensorsWriter> writers;
    private final Map<String, SafetensorsWriter> byName;
    private final String index;
    private boolean done;

    private ShardedWriter(Path folder, List<SafetensorsWriter> writers, Map<String, SafetensorsWriter> byName, String index) {
        this.folder = folder;
        this.writers = writers;
        this.byName = byName;
        this.index = index;
    }

    /** {@link #create(Path, List, Map, long)} with shards of {@link #DEFAULT_MAX_SHARD_SIZE}. */
    public static ShardedWriter create(Path folder, List<TensorInfo> tensors, Map<String, String> metadata) {
        return create(folder, tensors, metadata, DEFAULT_MAX_SHARD_SIZE);
    }

    /**
     * Lays out the shards and creates their temporary files (creating {@code folder} if needed).
     *
     * @param tensors      in the order they are split into shards
     * @param maxShardSize bytes of tensor data per shard; a larger tensor gets a shard alone
     */
    public static ShardedWriter create(Path folder, List<TensorInfo> tensors, Map<String, String> metadata, long maxShardSize) {
        return createShards(folder, split(tensors, maxShardSize), metadata);
    }

    /**
     * Like {@link #create(Path, List, Map, long)} with the shards given: one file per list, named
     * as the Hugging Face libraries name them ({@code model.safetensors} when there is one).
     */
    public static ShardedWriter createShards(Path folder, List<List<TensorInfo>> shards, Map<String, String> metadata) {
        Set<String> names = new HashSet<>();
        for (List<TensorInfo> shard : shards) {
            for (TensorInfo t : shard) {
                if (!names.add(t.name())) {
                    throw new IllegalArgumentException(Messages.of(folder.toString(), t.name(), "tensor given twice"));
                }
            }
        }
        if (shards.isEmpty()) {
            shards = List.of(List.of());
        }
        try {
            Temporaries.step(folder, () -> Files.createDirectories(folder));
        } catch (IOException e) {
            throw Messages.io(folder, "cannot create folder", e);
        }
        List<SafetensorsWriter> writers = new ArrayList<>();
        Map<String, SafetensorsWriter> byName = new HashMap<>();
        Map<String, String> weightMap = new TreeMap<>(JsonText.CODE_POINT_ORDER);
        long totalSize = 0;
        try {
            for (int i = 0; i < shards.size(); i++) {
                String fileName = shards.size() == 1 ? Checkpoint.SINGLE_FILE
                        : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafetensorsWriter w = SafetensorsWriter.create(folder.resolve(fileName), shards.get(i), metadata);
                writers.add(w);
                for (TensorInfo t : shards.get(i)) {
                    byName.put(t.name(), w);
                    weightMap.put(t.name(), fileName);
                    totalSize = Math.addExact(totalSize, t.byteSize());
                }
            }
        } catch (RuntimeException | Error e) {
            writers.forEach(SafetensorsWriter::close);
            throw e;
        }
        String index = shards.size() == 1 ? null : indexJson(weightMap, totalSize);
        return new ShardedWriter(folder, writers, byName, index);
    }

    /** Greedy split in the given order: a shard is closed when the next tensor would overflow it. */
    public static List<List<TensorInfo>> split(List<TensorInfo> tensors, long maxShardSize) {
        if (maxShardSize <= 0) {
            throw new IllegalArgumentException("max shard size must be positive, not " + maxShardSize);
        }
        List<List<TensorInfo>> shards = new ArrayList<>();
        List<TensorInfo> current = new ArrayList<>();
        long size = 0;
        for (TensorInfo t : tensors) {
            long bytes = t.byteSize();
            if (!current.isEmpty() && bytes > maxShardSize - size) {
                shards.add(List.copyOf(current));
                current.clear();
                size = 0;
            }
            current.add(t);
            size += bytes;
        }
        if (!current.isEmpty() || shards.isEmpty()) {
            shards.add(List.copyOf(current));
        }
        return shards;
    }

    /** The index as Python's {@code json.dumps(index, indent=2, sort_keys=True) + "\n"}. */
    static String indexJson(Map<String, String> sortedWeightMap, long totalSize) {
        StringBuilder sb = new StringBuilder(64 + 80 * sortedWeightMap.size());
        sb.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize).append("\n  },\n  \"weight_map\": {");
        String sep = "\n";
        for (Map.Entry<String, String> w : sortedWeightMap.entrySet()) {
            sb.append(sep).append("    ");
            JsonText.appendPython(sb, w.getKey());
            sb.append(": ");
            JsonText.appendPython(sb, w.getValue());
            sep = ",\n";
        }
        sb.append(sortedWeightMap.isEmpty() ? "}" : "\n  }").append("\n}\n");
        return sb.toString();
    }

    /** The output folder. */
    public Path folder() {
        return folder;
    }

    /** The final paths of the shard files, in order (the index not included). */
    public List<Path> files() {
        return writers.stream().map(SafetensorsWriter::path).toList();
    }

    /** How many shards. */
    public int shardCount() {
        return writers.size();
    }

    /** The writable bytes of {@code tensor}, in whichever shard holds it. */
    @Override
    public MemorySegment target(TensorInfo tensor) {
        SafetensorsWriter w = byName.get(tensor.name());
        if (w == null) {
            throw new IllegalArgumentException(Messages.of(folder.toString(), tensor.name(), "not one of the tensors being written"));
        }
        return w.target(tensor);
    }

    @Override
    public void release(TensorInfo tensor) {
        SafetensorsWriter w = byName.get(tensor.name());
        if (w != null) {
            w.release(tensor);
        }
    }

    /**
     * Publishes every shard, then the index (written to a temporary and renamed). If a step
     * fails, the shards not yet published are deleted; those already renamed stay.
     */
    public synchronized void commit() {
        if (done) {
            throw new IllegalStateException(Messages.of(folder.toString(), null, "writer is already committed or closed"));
        }
        done = true;
        try {
            for (SafetensorsWriter w : writers) {
                w.commit();
            }
            if (index != null) {
                writeIndex();
            }
        } finally {
            writers.forEach(SafetensorsWriter::close);
        }
    }

    private void writeIndex() {
        Path target = folder.resolve(Checkpoint.INDEX_FILE);
        Path temporary = folder.resolve("." + Checkpoint.INDEX_FILE + ".ugm-tmp-"
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = Temporaries.create(temporary,
                    () -> FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
                ch.write(java.nio.ByteBuffer.wrap(index.getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            Temporaries.publishing(temporary, () -> Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE));
            SafetensorsWriter.syncFolder(folder);
        } catch (IOException e) {
            try {
                Temporaries.discarding(temporary, () -> Files.deleteIfExists(temporary));
            } catch (IOException ignored) {
                // Best effort; the name marks it as debris.
            }
            throw Messages.io(target, "cannot write", e);
        }
    }

    /** Without a commit, deletes every temporary shard. Idempotent. */
    @Override
    public synchronized void close() {
        done = true;
        writers.forEach(SafetensorsWriter::close);
    }
}
