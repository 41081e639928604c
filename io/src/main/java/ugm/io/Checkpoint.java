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
 * it names. Every shard is opened (mapped) once and closed with the checkpoint.
 */
public final class Checkpoint implements TensorSource, AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path path;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byName;
    private final List<TensorInfo> tensors;

    private Checkpoint(Path path, List<SafetensorsFile> files) {
        this.path = path;
        this.files = List.copyOf(files);
        this.byName = new HashMap<>();
        List<TensorInfo> all = new ArrayList<>();
        for (SafetensorsFile f : files) {
            for (TensorEntry e : f.entries()) {
                byName.put(e.name(), f);
                all.add(e.info());
            }
        }
        this.tensors = List.copyOf(all);
    }

    /**
     * Opens a safetensors file, an index file, or a folder. A folder with both {@code model.safetensors} and an index is read
     * as the single file, as the Hugging Face libraries do.
     *
     * @throws SafetensorsException when there is no checkpoint, or it is malformed or inconsistent
     * @throws ugm.core.UgmException of kind IO when a file cannot be read
     */
    public static Checkpoint open(Path path) {
        if (Files.isRegularFile(path)) {
            if (path.getFileName().toString().endsWith(".index.json")) {
                Path folder = path.toAbsolutePath().getParent();
                return openSharded(folder, path);
            }
            return new Checkpoint(path, List.of(SafetensorsFile.open(path)));
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
        throw new SafetensorsException(Rule.NO_CHECKPOINT, path.toString(),
                "folder has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
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
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            // Two spellings of one file ("a", "./a") share one mapping.
            Map<Path, SafetensorsFile> byPath = new HashMap<>();
            Map<String, SafetensorsFile> shards = new HashMap<>();
            for (Map.Entry<String, Path> s : shardPaths.entrySet()) {
                SafetensorsFile f = byPath.get(s.getValue());
                if (f == null) {
                    f = SafetensorsFile.open(s.getValue());
                    opened.add(f);
                    byPath.put(s.getValue(), f);
                }
                shards.put(s.getKey(), f);
            }
            crossCheck(index, weightMap, shards, opened);
            return new Checkpoint(folder, opened);
        } catch (RuntimeException | Error e) {
            opened.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** Every shard tensor is named by the index, in its own shard, and in no other shard. */
    private static void crossCheck(Path index, Map<String, String> weightMap, Map<String, SafetensorsFile> shards,
                                   List<SafetensorsFile> inOrder) {
        Map<String, SafetensorsFile> owner = new HashMap<>();
        for (SafetensorsFile f : inOrder) {
            for (TensorEntry e : f.entries()) {
                SafetensorsFile other = owner.putIfAbsent(e.name(), f);
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
            SafetensorsFile shard = shards.get(w.getValue());
            if (shard.entry(w.getKey()) == null) {
                SafetensorsFile actual = owner.get(w.getKey());
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

    /** The safetensors files opened, in the order of {@link #tensors()}. */
    public List<Path> files() {
        return files.stream().map(SafetensorsFile::path).toList();
    }

    /** The opened files themselves. */
    public List<SafetensorsFile> shards() {
        return files;
    }

    /** The metadata of the first file. */
    public Map<String, String> metadata() {
        return files.isEmpty() ? Collections.emptyMap() : files.getFirst().metadata();
    }

    /** The file holding the tensor called {@code name}, or null. */
    public SafetensorsFile fileOf(String name) {
        return byName.get(name);
    }

    @Override
    public String describe() {
        return path.toString();
    }

    /** Every tensor, shard by shard, each shard's in data order. */
    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public TensorInfo info(String name) {
        SafetensorsFile f = byName.get(name);
        return f == null ? null : f.info(name);
    }

    /** @throws IllegalArgumentException when the checkpoint has no such tensor */
    @Override
    public MemorySegment data(String name) {
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw new IllegalArgumentException(Messages.of(describe(), name, "no such tensor in this checkpoint"));
        }
        return f.data(name);
    }

    @Override
    public void release(String name) {
        SafetensorsFile f = byName.get(name);
        if (f != null) {
            f.release(name);
        }
    }

    /** The path of the file holding the tensor; the checkpoint's path when there is none. */
    @Override
    public String locate(String name) {
        SafetensorsFile f = byName.get(name);
        return f == null ? describe() : f.path().toString();
    }

    @Override
    public String changedFile(String name) {
        SafetensorsFile f = byName.get(name);
        return f == null ? null : f.changedFile(name);
    }

    /**
     * Checks that every file is still the one opened (see {@link SafetensorsFile#changedOnDisk()}).
     *
     * @param activity what read the files, for the message: "merge", "conversion"
     * @throws ugm.core.UgmException of kind IO, {@code input changed during ACTIVITY: FILE}
     */
    public void requireUnchanged(String activity) {
        for (SafetensorsFile f : files) {
            if (f.changedOnDisk()) {
                throw new ugm.core.UgmException(ugm.core.UgmException.Kind.IO,
                        "input changed during " + activity + ": " + f.path().toString());
            }
        }
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
