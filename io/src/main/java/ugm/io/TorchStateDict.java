package ugm.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import ugm.core.TensorInfo;
import ugm.io.TorchException.Rule;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.StrValue;
import ugm.io.TorchValue.TensorValue;

/**
 * The state dict of a {@code torch.save} file ({@code pytorch_model.bin}: an {@code OrderedDict}
 * of names to tensors) as a {@link ugm.core.TensorSource} and a checkpoint file. Tensor data are
 * slices of the file's mapping. Names that share a storage (tied weights, such as
 * {@code lm_head.weight} and {@code model.embed_tokens.weight}) are each readable, as the Hugging
 * Face loader makes them; {@link #sharing(String)} tells which. Safe for concurrent reads.
 *
 * <p>Thread-safe for reads: any number of threads may read tensors at once; {@link #close()} must not race them.
 */
public final class TorchStateDict implements CheckpointFile {

    private final TorchFile file;
    private final Map<String, TensorValue> byName;
    private final List<TensorInfo> infos;

    TorchStateDict(TorchFile file) {
        this.file = file;
        if (!(file.root() instanceof DictValue dict)) {
            throw new TorchException(Rule.NOT_STATE_DICT, file.path().toString(), "holds a " + file.root().typeName()
                    + ", not a state dict (a dict of names to tensors)");
        }
        Map<String, TensorValue> tensors = new LinkedHashMap<>();
        for (Map.Entry<TorchValue, TorchValue> e : dict.entries().entrySet()) {
            if (!(e.getKey() instanceof StrValue(String name))) {
                throw new TorchException(Rule.NOT_STATE_DICT, file.path().toString(), "not a state dict: it has a key that is a "
                        + e.getKey().typeName() + " (" + e.getKey() + "), not a name");
            }
            if (!(e.getValue() instanceof TensorValue t)) {
                throw new TorchException(Rule.NOT_STATE_DICT, file.path().toString(), "not a state dict: the value under '" + name
                        + "' is a " + e.getValue().typeName() + ", not a tensor"
                        + (e.getValue() instanceof DictValue ? " (a training checkpoint holding a state dict?)" : ""));
            }
            tensors.put(name, t);
        }
        // In the order their bytes lie in the file; shared bytes keep the pickle's order.
        List<String> names = new ArrayList<>(tensors.keySet());
        names.sort(Comparator.comparingLong(n -> tensors.get(n).data().address()));
        this.byName = new LinkedHashMap<>();
        List<TensorInfo> list = new ArrayList<>();
        for (String n : names) {
            byName.put(n, tensors.get(n));
            list.add(tensors.get(n).info(n));
        }
        this.infos = List.copyOf(list);
    }

    /**
     * Opens a torch.save file as a state dict.
     *
     * @throws TorchException when the file is malformed or is not a state dict
     * @throws ugm.core.UgmException of kind IO when it cannot be read
     */
    public static TorchStateDict open(Path path) {
        TorchFile f = TorchFile.open(path);
        try {
            return f.stateDict();
        } catch (RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    /** The file read. */
    public TorchFile file() {
        return file;
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public String format() {
        return Checkpoint.PYTORCH;
    }

    /** A torch.save file has no metadata of its own. */
    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    /** The tensor called {@code name}, or null. */
    public TensorValue tensor(String name) {
        return byName.get(name);
    }

    /**
     * The other names whose bytes overlap this one's (tied weights), in file order; empty when none.
     */
    public List<String> sharing(String name) {
        TensorValue t = byName.get(name);
        List<String> out = new ArrayList<>();
        if (t != null) {
            byName.forEach((n, other) -> {
                if (!n.equals(name) && t.overlaps(other)) {
                    out.add(n);
                }
            });
        }
        return out;
    }

    /** Groups of names sharing bytes (tied weights), each in file order; empty when no bytes are shared. */
    public List<List<String>> sharedGroups() {
        java.util.Set<String> seen = new java.util.HashSet<>();
        List<List<String>> groups = new ArrayList<>();
        for (String n : byName.keySet()) {
            if (seen.contains(n)) {
                continue;
            }
            List<String> others = sharing(n);
            if (!others.isEmpty()) {
                List<String> g = new ArrayList<>();
                g.add(n);
                g.addAll(others);
                seen.addAll(g);
                groups.add(List.copyOf(g));
            }
        }
        return groups;
    }

    @Override
    public String describe() {
        return file.path().toString();
    }

    @Override
    public List<TensorInfo> tensors() {
        return infos;
    }

    @Override
    public TensorInfo info(String name) {
        TensorValue t = byName.get(name);
        return t == null ? null : t.info(name);
    }

    /**
     * The tensor's bytes: a read-only slice of the mapping, no copy.
     *
     * @throws IllegalArgumentException when the file has no such tensor
     */
    @Override
    public MemorySegment data(String name) {
        TensorValue t = byName.get(name);
        if (t == null) {
            throw new IllegalArgumentException(Messages.of(describe(), name, "no such tensor in this file"));
        }
        return t.data();
    }

    @Override
    public void release(String name) {
        TensorValue t = byName.get(name);
        if (t != null) {
            Pages.release(t.data());
        }
    }

    @Override
    public boolean changedOnDisk() {
        return file.changedOnDisk();
    }

    @Override
    public String changedFile(String name) {
        return changedOnDisk() ? file.path().toString() : null;
    }

    @Override
    public void close() {
        file.close();
    }
}
