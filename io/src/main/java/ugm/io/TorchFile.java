package ugm.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import ugm.core.DType;
import ugm.io.TorchException.Rule;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.ListValue;
import ugm.io.TorchValue.TensorValue;
import ugm.io.TorchValue.TupleValue;

/**
 * A {@code torch.save} file (PyTorch 1.6 and later: a zip of stored entries), mapped read-only
 * whole and read without running anything. The zip's central directory is read from the mapping
 * ({@link TorchZip}); {@code <archive>/data.pkl} is interpreted by a pickle machine that knows only
 * an allow-list of data types ({@link Unpickler}); each tensor's bytes are a slice of its storage
 * entry {@code <archive>/data/<key>} in the mapping, never copied onto the heap.
 *
 * <p>{@link #root()} is the whole pickled value (an optimizer state's nested dicts and lists, or a
 * state dict); {@link #stateDict()} views a state dict as a {@link ugm.core.TensorSource}.
 * Tensors must be contiguous row-major views of little-endian storages; anything else is a
 * {@link TorchException} naming the file and tensor.
 *
 * <p>Thread-safe for reads once opened; {@link #close()} must not race them.
 */
public final class TorchFile implements AutoCloseable {

    private final Path path;
    private final FileIdentity identity;
    private final Arena arena;
    private final MemorySegment mapping;
    private final String archive;
    private final TorchValue root;
    private final AtomicBoolean closed = new AtomicBoolean();

    private TorchFile(Path path, FileIdentity identity, Arena arena, MemorySegment mapping, String archive, TorchValue root) {
        this.path = path;
        this.identity = identity;
        this.arena = arena;
        this.mapping = mapping;
        this.archive = archive;
        this.root = root;
    }

    /**
     * Maps the file and reads its pickle.
     *
     * @throws TorchException when the file is not a torch.save zip, is malformed, or names a global off the allow-list
     * @throws ugm.core.UgmException of kind IO when it cannot be read
     */
    public static TorchFile open(Path path) {
        String file = path.toString();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            FileIdentity identity = FileIdentity.of(path);
            long size = channel.size();
            if (size < 22) {
                throw new TorchException(Rule.NOT_TORCH_ZIP, file, "file has " + size + " bytes, too few for a torch.save zip");
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return read(path, identity, arena, mapping);
            } catch (RuntimeException | IOException | Error e) {
                arena.close();
                throw e;
            }
        } catch (IOException e) {
            throw Messages.io(path, "cannot read", e);
        }
    }

    /** Reads a torch.save file held in memory (for tests and fuzzing); the segment must stay valid. */
    static TorchValue read(MemorySegment bytes, String file) {
        return parse(bytes, file).root;
    }

    private static TorchFile read(Path path, FileIdentity identity, Arena arena, MemorySegment mapping) {
        Parsed p = parse(mapping, path.toString());
        return new TorchFile(path, identity, arena, mapping, p.archive, p.root);
    }

    private record Parsed(String archive, TorchValue root) {
    }

    private static Parsed parse(MemorySegment mapping, String file) {
        TorchZip zip = TorchZip.read(mapping, file);
        if (zip.entries().isEmpty()) {
            throw new TorchException(Rule.BAD_LAYOUT, file, "the zip has no entries");
        }
        // As PyTorch's reader: the archive folder is that of the first entry.
        String first = zip.entries().keySet().iterator().next();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new TorchException(Rule.BAD_LAYOUT, file, "zip entry " + first + " is not in a folder; not a torch.save file");
        }
        String archive = first.substring(0, slash);
        String prefix = archive + "/";
        if (zip.entry(prefix + "constants.pkl") != null) {
            throw new TorchException(Rule.NOT_TORCH_ZIP, file, "a TorchScript archive (torch.jit.save), not a torch.save file");
        }
        TorchZip.Entry pickle = zip.entry(prefix + "data.pkl");
        if (pickle == null) {
            throw new TorchException(Rule.BAD_LAYOUT, file, "the zip has no " + prefix + "data.pkl; not a torch.save file");
        }
        TorchZip.Entry order = zip.entry(prefix + "byteorder");
        if (order != null) {
            MemorySegment o = zip.data(order);
            String text = o.byteSize() <= 16 ? new String(o.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII) : "";
            if (text.equals("big")) {
                throw new TorchException(Rule.BYTE_ORDER, file, "its tensors are big-endian (byteorder: big); ugm reads "
                        + "little-endian files only: load and save it again on a little-endian machine");
            }
            if (!text.equals("little")) {
                throw new TorchException(Rule.BYTE_ORDER, file, prefix + "byteorder is neither 'little' nor 'big'");
            }
        }
        Unpickler.Storages storages = (key, type, elements, location) -> {
            TorchZip.Entry e = zip.entry(prefix + "data/" + key);
            if (e == null) {
                throw new TorchException(Rule.BAD_STORAGE, file, "storage '" + key + "' has no entry " + prefix + "data/" + key);
            }
            boolean untyped = type.name().equals("UntypedStorage");
            DType dtype = type.dtype();
            if (dtype == null && !untyped) {
                throw new TorchException(Rule.BAD_TENSOR, file, "storage " + key + " is a torch." + type.name()
                        + ", which has no safetensors dtype");
            }
            long width = untyped ? 1 : dtype.byteWidth();
            long bytes;
            try {
                bytes = Math.multiplyExact(elements, width);
            } catch (ArithmeticException x) {
                throw new TorchException(Rule.BAD_STORAGE, file, "storage " + key + " declares " + elements + " elements, too many");
            }
            MemorySegment data = zip.data(e);
            if (data.byteSize() != bytes) {
                throw new TorchException(Rule.BAD_STORAGE, file, "storage " + key + " declares " + elements + " elements of torch."
                        + type.name() + " (" + bytes + " bytes), but its entry holds " + data.byteSize() + " bytes");
            }
            return new Unpickler.Storage(key, untyped ? null : dtype, type.name(), data);
        };
        return new Parsed(archive, Unpickler.load(zip.data(pickle), file, prefix + "data.pkl", storages));
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** The zip's folder, {@code archive} in PyTorch 2.x, the file's base name in older versions. */
    public String archiveName() {
        return archive;
    }

    /** The pickled value: a state dict, an optimizer state, or any other tree of allowed data and tensors. */
    public TorchValue root() {
        return root;
    }

    /**
     * Every tensor in the value by its path: dict keys and list positions joined by dots, such as
     * {@code state.0.exp_avg_sq} or {@code model.embed_tokens.weight}, in the pickle's order. A
     * value the pickle reuses (one object under two paths) is visited once, under its first path,
     * so the walk is linear in the pickle's size.
     */
    public Map<String, TensorValue> tensors() {
        Map<String, TensorValue> out = new LinkedHashMap<>();
        collect(root, out::put);
        return Collections.unmodifiableMap(out);
    }

    /** Calls {@code found} with each tensor of {@code root} and its path, as {@link #tensors()} lists them. */
    static void collect(TorchValue root, java.util.function.BiConsumer<String, TensorValue> found) {
        collect(root, "", found, new IdentityHashMap<>());
    }

    private static void collect(TorchValue v, String path, java.util.function.BiConsumer<String, TensorValue> out,
                                IdentityHashMap<TorchValue, Boolean> seen) {
        if (seen.put(v, Boolean.TRUE) != null) {
            return;
        }
        switch (v) {
            case TensorValue t -> out.accept(path, t);
            case DictValue d -> d.entries().forEach((k, x) -> collect(x, child(path, k), out, seen));
            case ListValue l -> {
                for (int i = 0; i < l.items().size(); i++) {
                    collect(l.items().get(i), child(path, Integer.toString(i)), out, seen);
                }
            }
            case TupleValue t -> {
                for (int i = 0; i < t.items().size(); i++) {
                    collect(t.items().get(i), child(path, Integer.toString(i)), out, seen);
                }
            }
            default -> {
            }
        }
    }

    private static String child(String path, Object key) {
        String k = key instanceof TorchValue.StrValue s ? s.value() : key instanceof TorchValue.IntValue i ? Long.toString(i.value()) : key.toString();
        return path.isEmpty() ? k : path + "." + k;
    }

    /**
     * This file as a state dict: a dict of names to tensors. The view owns the file: closing it
     * closes this.
     *
     * @throws TorchException of rule NOT_STATE_DICT when the value is not one, naming the first key that is not a tensor
     */
    public TorchStateDict stateDict() {
        return new TorchStateDict(this);
    }

    /** Whether the file on disk is no longer the one opened (see {@link SafetensorsFile#changedOnDisk()}). */
    public boolean changedOnDisk() {
        return identity == null || identity.size() != mapping.byteSize() || !identity.equals(FileIdentity.of(path));
    }

    /** Unmaps the file; tensor data handed out become inaccessible. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
