package ugm.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.UgmException;

/**
 * A checkpoint folder built under a temporary name beside its target and renamed into place
 * only when complete: a failure or a kill never leaves a folder under the target name that
 * looks complete. Temporaries are named {@code .<target>.ugm-tmp-<pid>-<n>}; those of dead
 * processes are removed by the next run into the same target.
 */
public final class OutputFolder implements AutoCloseable {
    private static final String TMP = ".ugm-tmp-";
    private static final String OLD = ".ugm-old-";

    private final Path target;
    private final Path temp;
    private final boolean force;
    private boolean published;

    private OutputFolder(Path target, Path temp, boolean force) {
        this.target = target;
        this.temp = temp;
        this.force = force;
    }

    /**
     * Refuses a target that exists and is not an empty folder, unless {@code force}; a file is
     * always refused. Call it before any long work so the user hears at once.
     */
    public static void checkTarget(Path target, boolean force) {
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new UgmException(UgmException.Kind.USAGE, "output " + target + " exists and is not a folder");
        }
        if (!force && Files.isDirectory(target) && !isEmpty(target)) {
            throw new UgmException(UgmException.Kind.USAGE,
                    "output folder " + target + " exists and is not empty; use --force to replace it");
        }
    }

    /** Creates the temporary folder beside {@code target}, removing stale ones of dead runs. */
    public static OutputFolder create(Path target, boolean force) {
        checkTarget(target, force);
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        try {
            Files.createDirectories(parent);
            removeStale(parent, abs.getFileName().toString());
            long pid = ProcessHandle.current().pid();
            for (int attempt = 0; ; attempt++) {
                Path temp = parent.resolve("." + abs.getFileName() + TMP + pid + "-"
                        + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
                try {
                    Temporaries.create(temp, () -> Files.createDirectory(temp));
                    return new OutputFolder(abs, temp, force);
                } catch (FileAlreadyExistsException e) {
                    if (attempt > 10) {
                        throw e;
                    }
                }
            }
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot create the output beside " + target + ": " + e.getMessage(), e);
        }
    }

    /** The temporary folder everything is written into. */
    public Path temp() {
        return temp;
    }

    public Path target() {
        return target;
    }

    /** A sharded checkpoint writer into the temporary folder. */
    public ShardedWriter shards(List<TensorInfo> tensors, Map<String, String> metadata, long maxShardBytes) {
        return ShardedWriter.create(temp, tensors, metadata, maxShardBytes);
    }

    /** Writes a small file (a config, a model card) into the temporary folder. */
    public void writeFile(String name, byte[] content) {
        try {
            Temporaries.step(temp, () -> Files.write(temp.resolve(name), content));
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot write " + name + " into " + temp + ": " + e.getMessage(), e);
        }
    }

    /**
     * Copies the model's other files from {@code modelDir} (config, tokenizer, generation config, ...):
     * regular top-level files that are not weights. When {@code outDtype} is set, {@code config.json}'s
     * {@code torch_dtype} (and {@code dtype}) is rewritten to match.
     */
    public void copyModelFiles(Path modelDir, DType outDtype) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(modelDir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (!Files.isRegularFile(f) || name.startsWith(".") || isWeights(name)) {
                    continue;
                }
                Path dst = temp.resolve(name);
                Temporaries.step(temp, () -> {
                    if (name.equals("config.json") && outDtype != null) {
                        rewriteTorchDtype(f, dst, torchName(outDtype));
                    } else {
                        Files.copy(f, dst, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                });
            }
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot copy the model files of " + modelDir + ": " + e.getMessage(), e);
        }
    }

    static boolean isWeights(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".safetensors") || n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth")
                || n.endsWith(".ckpt") || n.endsWith(".h5") || n.endsWith(".msgpack") || n.endsWith(".gguf")
                || n.endsWith(".index.json") || n.startsWith("ugm_config") || n.equals("readme.md");
    }

    /** The name config.json (and mergekit) use for a dtype: bfloat16, float16, float32, float64. */
    public static String torchName(DType d) {
        return switch (d) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            case F64 -> "float64";
            default -> throw new IllegalArgumentException(d.name());
        };
    }

    private static void rewriteTorchDtype(Path src, Path dst, String dtype) throws IOException {
        JsonFactory f = new JsonFactory();
        try (JsonParser p = f.createParser(src.toFile()); JsonGenerator g = f.createGenerator(dst.toFile(),
                com.fasterxml.jackson.core.JsonEncoding.UTF8)) {
            g.useDefaultPrettyPrinter();
            int depth = 0;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.FIELD_NAME && depth == 1
                        && (p.currentName().equals("torch_dtype") || p.currentName().equals("dtype"))) {
                    g.writeFieldName(p.currentName());
                    JsonToken v = p.nextToken();
                    if (v == JsonToken.VALUE_STRING) {
                        g.writeString(dtype);
                    } else {
                        g.copyCurrentStructure(p);
                    }
                    continue;
                }
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    depth++;
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    depth--;
                }
                g.copyCurrentEvent(p);
            }
            g.writeRaw('\n');
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            // Not JSON we understand: keep the user's file as it is rather than fail the merge.
            Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * Makes the folder durable and renames it onto the target. An existing target (allowed by
     * {@code force}, or empty) is replaced only now, after everything else succeeded.
     */
    public void publish() {
        try {
            syncTree(temp);
            Path[] old = {null};
            // Under the lock of the shutdown cleanup: renamed whole, or removed whole.
            Temporaries.publishing(temp, () -> {
                if (Files.exists(target)) {
                    checkTarget(target, force);
                    old[0] = target.resolveSibling("." + target.getFileName() + OLD + ProcessHandle.current().pid());
                    deleteTree(old[0]);
                    Files.move(target, old[0], StandardCopyOption.ATOMIC_MOVE);
                }
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    if (old[0] != null) {
                        Files.move(old[0], target, StandardCopyOption.ATOMIC_MOVE);
                    }
                    throw e;
                }
                if (old[0] != null) {
                    Temporaries.adopt(old[0]); // the replaced output: removed below, or by the shutdown cleanup
                }
                published = true;
            });
            syncDir(target.getParent());
            if (old[0] != null) {
                Temporaries.discarding(old[0], () -> deleteTree(old[0]));
            }
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot publish " + target + ": " + e.getMessage(), e);
        }
    }

    /** Removes the temporary folder unless it was published. */
    @Override
    public void close() {
        if (!published) {
            try {
                Temporaries.discarding(temp, () -> deleteTree(temp));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void removeStale(Path parent, String name) throws IOException {
        String prefix = "." + name;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(parent, prefix + ".ugm-*")) {
            for (Path p : s) {
                String rest = p.getFileName().toString().substring(prefix.length());
                String tail = rest.startsWith(TMP) ? rest.substring(TMP.length())
                        : rest.startsWith(OLD) ? rest.substring(OLD.length()) : null;
                if (tail == null) {
                    continue;
                }
                int dash = tail.indexOf('-');
                String pidText = dash < 0 ? tail : tail.substring(0, dash);
                try {
                    long pid = Long.parseLong(pidText);
                    if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        continue; // another live run is writing there
                    }
                } catch (NumberFormatException e) {
                    continue;
                }
                deleteTree(p);
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void syncTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p)) {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                        ch.force(true);
                    }
                }
            }
        }
        syncDir(dir);
    }

    static void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems cannot sync a directory; the rename itself is still atomic.
        }
    }
}
