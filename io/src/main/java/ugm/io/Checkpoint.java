package ugm.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.io.SafetensorsException.Rule;

/**
 * A model checkpoint as one name-to-tensor view: a single safetensors file, a folder with
 * {@code model.safetensors}, or a folder with {@code model.safetensors.index.json} and the shards
 * it names; or the same in PyTorch's format: a {@code torch.save} file ({@code .bin}, {@code .pt}),
 * a folder with {@code pytorch_model.bin}, or {@code pytorch_model.bin.index.json} and its shards
 * (read by {@link TorchStateDict}, never executed). Every shard is opened (mapped) once and closed
 * with the checkpoint.
 *
 * <p>Thread-safe for reads: any number of threads may read tensors at once; {@link #close()} must not race them.
 */
public final class Checkpoint implements TensorSource, AutoCloseable {

    /** The file of a checkpoint folder in one safetensors file. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The index of a checkpoint folder in safetensors shards. */
    public static final String INDEX_FILE = "model.safetensors.index.json";
    /** Where a model folder keeps its diagonal Fisher, itself a checkpoint: {@code <model>/hessian}. */
    public static final String FISHER_FOLDER = "hessian";
    /** The file of a checkpoint folder in one torch.save file. */
    public static final String TORCH_FILE = "pytorch_model.bin";
    /** The index of a checkpoint folder in torch.save shards. */
    public static final String TORCH_INDEX_FILE = "pytorch_model.bin.index.json";
    /** {@link #format()} of safetensors files. */
    public static final String SAFETENSORS = "safetensors";
    /** {@link #format()} of torch.save files. */
    public static final String PYTORCH = "pytorch";

    private final Path path;
    private final List<CheckpointFile> files;
    private final Map<String, CheckpointFile> byName;
    private final List<TensorInfo> tensors;
    /** The LoRA adapter applied to the files, or null. */
    private final LoraAdapter adapter;

    private Checkpoint(Path path, List<? extends CheckpointFile> files) {
        this(path, files, null);
    }

    private Checkpoint(Path path, List<? extends CheckpointFile> files, LoraAdapter adapter) {
        this.path = path;
        this.adapter = adapter;
        this.files = List.copyOf(files);
        this.byName = new HashMap<>();
        List<TensorInfo> all = new ArrayList<>();
        for (CheckpointFile f : files) {
            for (TensorInfo t : f.tensors()) {
                byName.put(t.name(), f);
                all.add(t);
            }
        }
        this.tensors = List.copyOf(all);
    }

    /**
     * Opens a safetensors file, a torch.save file, an index file, or a folder. A folder is read as
     * the Hugging Face libraries read it, the first found of {@code model.safetensors}, its index,
     * {@code pytorch_model.bin}, its index: safetensors wins over PyTorch's format.
     *
     * @throws SafetensorsException when there is no checkpoint, or it is malformed or inconsistent
     * @throws TorchException when a torch.save file is malformed, holds something other than a
     *                        state dict, or names code in its pickle
     * @throws ugm.core.UgmException of kind IO when a file cannot be read
     */
    public static Checkpoint open(Path path) {
        if (Files.isRegularFile(path)) {
            if (path.getFileName().toString().endsWith(".index.json")) {
                Path folder = path.toAbsolutePath().getParent();
                return openSharded(folder, path);
            }
            return new Checkpoint(path, List.of(openFile(path)));
        }
        if (!Files.isDirectory(path)) {
            throw new SafetensorsException(Rule.NO_CHECKPOINT, path.toString(), "no such file or folder");
        }
        Path single = path.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return new Checkpoint(path, List.of(SafetensorsFile.open(single)));
        }
        Path index = path.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openSharded(path, index);
        }
        Path torch = path.resolve(TORCH_FILE);
        if (Files.isRegularFile(torch)) {
            return new Checkpoint(path, List.of(TorchStateDict.open(torch)));
        }
        Path torchIndex = path.resolve(TORCH_INDEX_FILE);
        if (Files.isRegularFile(torchIndex)) {
            return openSharded(path, torchIndex);
        }
        throw new SafetensorsException(Rule.NO_CHECKPOINT, path.toString(),
                "folder has none of " + SINGLE_FILE + ", " + INDEX_FILE + ", " + TORCH_FILE + ", " + TORCH_INDEX_FILE);
    }

    /**
     * Opens the checkpoint {@code base} (as {@link #open(Path)}) with the PEFT LoRA adapter in the
     * folder {@code adapter} applied ({@link LoraAdapter}): the base's tensors, those the adapter
     * changes computed when first read. {@link #path()} is the base's; {@link #files()} lists the
     * adapter's files too.
     *
     * @throws AdapterException when the adapter is invalid or does not fit the base
     */
    public static Checkpoint open(Path base, Path adapter) {
        Checkpoint b = open(base);
        try {
            LoraAdapter a = LoraAdapter.open(adapter, b);
            return new Checkpoint(base, b.files.stream().map(f -> new AdaptedFile(f, a)).toList(), a);
        } catch (RuntimeException | Error e) {
            b.close();
            throw e;
        }
    }

    /**
     * One file, by its name: {@code .safetensors} as safetensors without looking further;
     * {@code .bin}, {@code .pt}, {@code .pth} and {@code .ckpt} as torch.save files; any other
     * name by its first bytes (a zip header means torch.save).
     */
    static CheckpointFile openFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".safetensors")) {
            return SafetensorsFile.open(file);
        }
        if (name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".ckpt") || startsLikeZip(file)) {
            return TorchStateDict.open(file);
        }
        return SafetensorsFile.open(file);
    }

    private static boolean startsLikeZip(Path file) {
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(file)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4);
            while (b.hasRemaining() && c.read(b) >= 0) {
                // read the first four bytes, or all there are
            }
            return b.position() == 4 && TorchZip.looksLikeZip(MemorySegment.ofArray(b.array()));
        } catch (IOException e) {
            return false; // the safetensors reader reports it
        }
    }

    private static Checkpoint openSharded(Path folder, Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, Path> shardPaths = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(weightMap.values())) {
            shardPaths.put(shard, shardPath(folder, index, shard, weightMap));
        }
        for (Map.Entry<String, Path> s : shardPaths.entrySet()) {
            if (!Files.isRegularFile(s.getValue())) {
                throw new SafetensorsException(Rule.MISSING_SHARD, index.toString(), firstTensorIn(weightMap, s.getKey()),
                        "shard " + s.getKey() + " does not exist");
            }
            ShardLinks.requireInside(folder, index, s.getKey(), s.getValue(), firstTensorIn(weightMap, s.getKey()));
        }
        List<CheckpointFile> opened = new ArrayList<>();
        try {
            // Two spellings of one file ("a", "./a") share one mapping.
            Map<Path, CheckpointFile> byPath = new HashMap<>();
            Map<String, CheckpointFile> shards = new HashMap<>();
            for (Map.Entry<String, Path> s : shardPaths.entrySet()) {
                CheckpointFile f = byPath.get(s.getValue());
                if (f == null) {
                    f = openFile(s.getValue());
                    opened.add(f);
                    byPath.put(s.getValue(), f);
                }
                shards.put(s.getKey(), f);
            }
            crossCheck(index, weightMap, shards, opened);
            return new Checkpoint(folder, opened);
        } catch (RuntimeException | Error e) {
            opened.forEach(CheckpointFile::close);
            throw e;
        }
    }

    /** Every shard tensor is named by the index, in its own shard, and in no other shard. */
    private static void crossCheck(Path index, Map<String, String> weightMap, Map<String, CheckpointFile> shards,
                                   List<CheckpointFile> inOrder) {
        Map<String, CheckpointFile> owner = new HashMap<>();
        for (CheckpointFile f : inOrder) {
            for (TensorInfo e : f.tensors()) {
                CheckpointFile other = owner.putIfAbsent(e.name(), f);
                if (other != null) {
                    throw new SafetensorsException(Rule.DUPLICATE_ACROSS_SHARDS, f.path().toString(), e.name(),
                            "also in shard " + other.path().getFileName());
                }
                if (!weightMap.containsKey(e.name())) {
                    throw new SafetensorsException(Rule.NOT_IN_INDEX, f.path().toString(), e.name(),
                            "not named in " + index.getFileName());
                }
            }
        }
        for (Map.Entry<String, String> w : weightMap.entrySet()) {
            CheckpointFile shard = shards.get(w.getValue());
            if (shard.info(w.getKey()) == null) {
                CheckpointFile actual = owner.get(w.getKey());
                throw new SafetensorsException(Rule.NOT_IN_SHARD, shard.path().toString(), w.getKey(),
                        index.getFileName() + " places it in this shard, which lacks it"
                                + (actual == null ? "" : " (it is in " + actual.path().getFileName() + ")"));
            }
        }
    }

    /** The shard's file, refused when the name is absolute or leads out of the folder. */
    private static Path shardPath(Path folder, Path index, String shard, Map<String, String> weightMap) {
        String tensor = firstTensorIn(weightMap, shard);
        Path relative;
        try {
            relative = Path.of(shard);
        } catch (InvalidPathException e) {
            throw new SafetensorsException(Rule.BAD_INDEX, index.toString(), tensor, "shard name \"" + shard + "\" is not a valid file name");
        }
        Path base = folder.toAbsolutePath().normalize();
        Path resolved = base.resolve(relative).normalize();
        if (shard.isEmpty() || relative.isAbsolute() || !resolved.startsWith(base) || resolved.equals(base)) {
            throw new SafetensorsException(Rule.SHARD_OUTSIDE_FOLDER, index.toString(), tensor,
                    "shard \"" + shard + "\" is not a file inside the checkpoint folder; refused");
        }
        return folder.resolve(relative).normalize();
    }

    private static String firstTensorIn(Map<String, String> weightMap, String shard) {
        for (Map.Entry<String, String> w : weightMap.entrySet()) {
            if (w.getValue().equals(shard)) {
                return w.getKey();
            }
        }
        return null;
    }

    /** The index's {@code weight_map}, in file order. Other keys ({@code metadata}, ...) are skipped. */
    static Map<String, String> readWeightMap(Path index) {
        String file = index.toString();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(index);
        } catch (IOException e) {
            throw Messages.io(index, "cannot read", e);
        }
        MemorySegment content = MemorySegment.ofArray(bytes);
        long bad = SafetensorsHeader.firstInvalidUtf8(content);
        if (bad >= 0) {
            throw new SafetensorsException(Rule.BAD_INDEX, file, "not valid UTF-8 (at byte " + bad + ")");
        }
        Map<String, String> weightMap = null;
        try (JsonParser p = SafetensorsHeader.JSON.createParser(
                new InputStreamReader(new SegmentInputStream(content), SafetensorsHeader.strictUtf8()))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new SafetensorsException(Rule.BAD_INDEX, file, "index is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken value = p.nextToken();
                if (!key.equals("weight_map")) {
                    p.skipChildren();
                    continue;
                }
                if (weightMap != null) {
                    throw new SafetensorsException(Rule.BAD_INDEX, file, "weight_map appears twice");
                }
                if (value != JsonToken.START_OBJECT) {
                    throw new SafetensorsException(Rule.BAD_INDEX, file, "weight_map is not an object");
                }
                weightMap = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String tensor = p.currentName();
                    if (p.nextToken() != JsonToken.VALUE_STRING) {
                        throw new SafetensorsException(Rule.BAD_INDEX, file, tensor, "weight_map value is not a shard file name");
                    }
                    String shard = p.getText();
                    int half = JsonText.unpairedSurrogate(tensor);
                    if (half >= 0) {
                        throw new SafetensorsException(Rule.BAD_INDEX, file, tensor, "name " + JsonText.surrogateProblem(tensor, half));
                    }
                    half = JsonText.unpairedSurrogate(shard);
                    if (half >= 0) {
                        throw new SafetensorsException(Rule.BAD_INDEX, file, tensor,
                                "shard name \"" + shard + "\" " + JsonText.surrogateProblem(shard, half));
                    }
                    if (weightMap.putIfAbsent(tensor, shard) != null) {
                        throw new SafetensorsException(Rule.BAD_INDEX, file, tensor, "named twice in weight_map");
                    }
                }
            }
            if (p.nextToken() != null) {
                throw new SafetensorsException(Rule.BAD_INDEX, file, "content follows the index's JSON object");
            }
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(Rule.BAD_INDEX, file, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (IOException e) {
            throw new SafetensorsException(Rule.BAD_INDEX, file, "cannot be parsed: " + e);
        }
        if (weightMap == null) {
            throw new SafetensorsException(Rule.BAD_INDEX, file, "index has no weight_map");
        }
        return weightMap;
    }

    /** The file or folder this checkpoint was opened from. */
    public Path path() {
        return path;
    }

    /** The files opened, in the order of {@link #tensors()}; then, with an adapter, its config and weights. */
    public List<Path> files() {
        List<Path> paths = new ArrayList<>(files.stream().map(CheckpointFile::path).toList());
        if (adapter != null) {
            paths.addAll(adapter.files());
        }
        return paths;
    }

    /** Every file and folder read: {@link #path()}, the adapter's folder (when there is one), and {@link #files()}. */
    public List<Path> inputs() {
        List<Path> paths = new ArrayList<>();
        paths.add(path);
        if (adapter != null) {
            paths.add(adapter.folder());
        }
        paths.addAll(files());
        return paths;
    }

    /** How many tensors the adapter changes; 0 without one. */
    public int adapted() {
        return adapter == null ? 0 : adapter.size();
    }

    /** The opened files themselves. */
    public List<CheckpointFile> shards() {
        return files;
    }

    /**
     * What the files are: {@value #SAFETENSORS} or {@value #PYTORCH} (both, joined by {@code +},
     * when an index names files of each).
     */
    public String format() {
        return String.join("+", files.stream().map(CheckpointFile::format).distinct().toList());
    }

    /** The metadata of the first file. */
    public Map<String, String> metadata() {
        return files.isEmpty() ? Collections.emptyMap() : files.getFirst().metadata();
    }

    /** The file holding the tensor called {@code name}, or null. */
    public CheckpointFile fileOf(String name) {
        return byName.get(name);
    }

    /** The path; {@code BASE+ADAPTER} with an adapter. */
    @Override
    public String describe() {
        return adapter == null ? path.toString() : path + "+" + adapter.folder();
    }

    /** Every tensor, shard by shard, each shard's in data order. */
    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public TensorInfo info(String name) {
        CheckpointFile f = byName.get(name);
        return f == null ? null : f.info(name);
    }

    /** @throws IllegalArgumentException when the checkpoint has no such tensor */
    @Override
    public MemorySegment data(String name) {
        CheckpointFile f = byName.get(name);
        if (f == null) {
            throw new IllegalArgumentException(Messages.of(describe(), name, "no such tensor in this checkpoint"));
        }
        return f.data(name);
    }

    @Override
    public void release(String name) {
        CheckpointFile f = byName.get(name);
        if (f != null) {
            f.release(name);
        }
    }

    /** The path of the file holding the tensor; the checkpoint's path when there is none. */
    @Override
    public String locate(String name) {
        CheckpointFile f = byName.get(name);
        return f == null ? describe() : f.path().toString();
    }

    @Override
    public String changedFile(String name) {
        CheckpointFile f = byName.get(name);
        return f == null ? null : f.changedFile(name);
    }

    /**
     * Checks that every file is still the one opened (see {@link SafetensorsFile#changedOnDisk()}).
     *
     * @param activity what read the files, for the message: "merge", "conversion"
     * @throws ugm.core.UgmException of kind IO, {@code input changed during ACTIVITY: FILE}
     */
    public void requireUnchanged(String activity) {
        for (CheckpointFile f : files) {
            if (f.changedOnDisk()) {
                throw new ugm.core.UgmException(ugm.core.UgmException.Kind.IO,
                        "input changed during " + activity + ": " + f.path().toString());
            }
        }
        String changed = adapter == null ? null : adapter.changedFile();
        if (changed != null) {
            throw new ugm.core.UgmException(ugm.core.UgmException.Kind.IO, "input changed during " + activity + ": " + changed);
        }
    }

    @Override
    public void close() {
        try {
            files.forEach(CheckpointFile::close);
        } finally {
            if (adapter != null) {
                adapter.close();
            }
        }
    }
}
