package ugm.io;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.LinkOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
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
 * looks complete. Temporaries are named {@code .<target>.ugm-tmp-<pid>-<n>} (the target's name
 * shortened when that would not fit, see {@link #stem}); those of dead processes are removed by
 * the next run into the same target.
 *
 * <p>Not thread-safe: one thread fills, publishes or closes it (the files written into it may be written by any threads).
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

    /**
     * Refuses (a usage error) an output that is, contains or lies inside one of {@code inputs}
     * (files or folders: checkpoints, their shards, Fishers, the config), comparing both the paths
     * as written and with links, {@code .} and {@code ..} resolved. Publishing replaces the
     * output folder whole, so an output that held an input would delete it; one inside an input
     * folder would change that model.
     */
    public static void requireApart(Path target, Collection<Path> inputs) {
        List<Path> outs = forms(target);
        String[] relations = {"is", "contains", "lies inside"};
        Path closest = null;
        int relation = relations.length;
        for (Path input : inputs) {
            boolean folder = Files.isDirectory(input);
            for (Path in : forms(input)) {
                for (Path out : outs) {
                    int r = out.equals(in) ? 0 : in.startsWith(out) ? 1 : folder && out.startsWith(in) ? 2 : relations.length;
                    if (r < relation) {
                        relation = r;
                        closest = input;
                    }
                }
            }
        }
        if (closest != null) {
            throw new UgmException(UgmException.Kind.USAGE, "output " + target.toString() + " " + relations[relation]
                    + " the input " + closest.toString() + "; choose an output folder apart from every input");
        }
    }

    /** The path made absolute and normalized, and with links resolved as far as it exists. */
    private static List<Path> forms(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        Path rest = Path.of("");
        while (existing != null && !Files.exists(existing)) {
            rest = existing.getFileName().resolve(rest);
            existing = existing.getParent();
        }
        if (existing == null) {
            return List.of(abs);
        }
        try {
            return List.of(abs, existing.toRealPath().resolve(rest).normalize());
        } catch (IOException e) {
            return List.of(abs);
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
                Path temp = parent.resolve(sideName(abs.getFileName().toString(), "tmp",
                        pid + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt())));
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

    /** The folder this output is published as. */
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
     * Copies the model's other files from {@code modelDir} (config, tokenizer, generation config, ...),
     * as {@link ModelFiles#scan} chooses them. When {@code outDtype} is set, {@code config.json}'s
     * {@code torch_dtype} (and {@code dtype}) is rewritten to match.
     *
     * @return one line per file skipped and why (a link out of the folder, ...), for the user
     * @throws UgmException of kind INVALID_INPUT when config.json is not valid JSON
     */
    public List<String> copyModelFiles(Path modelDir, DType outDtype) {
        ModelFiles files = ModelFiles.scan(modelDir);
        copyModelFiles(files, outDtype);
        return files.warnings();
    }

    /**
     * Copies the files {@code files} chose (scanned, and config.json checked, before the long work).
     * Each is read without following links (a link was resolved and checked by the scan), so a file
     * replaced by a link since then is not followed.
     *
     * @throws UgmException of kind INVALID_INPUT when config.json is no longer valid JSON
     */
    public void copyModelFiles(ModelFiles files, DType outDtype) {
        for (ModelFiles.Source s : files.sources()) {
            Path dst = temp.resolve(s.name());
            try {
                // one step under the interrupt cleanup's lock: done whole before the removal, or not begun
                Temporaries.step(temp, () -> {
                    if (s.name().equals(ModelFiles.CONFIG) && outDtype != null) {
                        rewriteTorchDtype(s, dst, outDtype.torchName());
                    } else {
                        try (InputStream in = ModelFiles.open(s)) {
                            Files.copy(in, dst);
                        }
                    }
                    Files.setLastModifiedTime(dst, Files.getLastModifiedTime(s.read(), LinkOption.NOFOLLOW_LINKS));
                });
            } catch (IOException e) {
                throw new UgmException(UgmException.Kind.IO, "cannot copy " + s.path() + " into " + temp + ": " + e.getMessage(), e);
            }
        }
    }

    static boolean isWeights(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".safetensors") || n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth")
                || n.endsWith(".ckpt") || n.endsWith(".h5") || n.endsWith(".msgpack") || n.endsWith(".gguf")
                || n.endsWith(".index.json") || n.startsWith("ugm_config") || n.equals("readme.md");
    }

    private static void rewriteTorchDtype(ModelFiles.Source src, Path dst, String dtype) throws IOException {
        try (JsonParser p = ModelFiles.parser(src); JsonGenerator g = ModelFiles.JSON.createGenerator(dst.toFile(),
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
            // The scan checked it: it changed since. Never write a config that claims the wrong dtype.
            throw ModelFiles.invalidConfig(src, "not valid JSON: " + SafetensorsHeader.jsonProblem(e));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw ModelFiles.invalidConfig(src, "not valid UTF-8");
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
                    old[0] = target.resolveSibling(sideName(target.getFileName().toString(), "old",
                            Long.toString(ProcessHandle.current().pid())));
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
            SafetensorsWriter.syncFolder(target.getParent());
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

    /** The longest file name, in bytes of UTF-8, of Linux's file systems (and most others). */
    static final int NAME_MAX = 255;
    /** Room kept after the stem: {@code .ugm-tmp-}, a pid (up to 19 digits), a dash and 16 hex digits. */
    private static final int TAIL_MAX = TMP.length() + 19 + 1 + 16;

    /**
     * The name of a temporary ({@code kind} "tmp") or old ({@code kind} "old") file or folder beside
     * {@code target}: {@code <stem>.ugm-<kind>-<tail>}, {@code tail} being at most a pid, a dash and
     * 16 hex digits. See {@link #stem}.
     */
    static String sideName(String target, String kind, String tail) {
        return stem(target) + ".ugm-" + kind + "-" + tail;
    }

    /**
     * What the names beside {@code target} start with: {@code .<target>}, or, when that would leave
     * a name with its tail longer than {@link #NAME_MAX} bytes, {@code .<the start of target>~<8 hex
     * digits of a SHA-256 of the whole name>}, cut between characters. So every target name that
     * fits has temporaries that fit, still recognisable, and distinct from those of other targets.
     */
    static String stem(String target) {
        String plain = "." + target;
        if (utf8Length(plain) + TAIL_MAX <= NAME_MAX) {
            return plain;
        }
        int room = NAME_MAX - TAIL_MAX - 1 - 1 - 8; // the dot, the tilde, the hash
        StringBuilder sb = new StringBuilder(".");
        int used = 0;
        for (int i = 0; i < target.length(); ) {
            int cp = target.codePointAt(i);
            int n = utf8Length(new String(Character.toChars(cp)));
            if (used + n > room) {
                break;
            }
            sb.appendCodePoint(cp);
            used += n;
            i += Character.charCount(cp);
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(target.getBytes(StandardCharsets.UTF_8));
            return sb.append('~').append(HexFormat.of().formatHex(digest, 0, 4)).toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void removeStale(Path parent, String name) throws IOException {
        String prefix = stem(name);
        // A filter, not a glob: the name may hold *, ?, [ or {.
        try (DirectoryStream<Path> s = Files.newDirectoryStream(parent, p -> p.getFileName().toString().startsWith(prefix + ".ugm-"))) {
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
        SafetensorsWriter.syncFolder(dir);
    }

}
