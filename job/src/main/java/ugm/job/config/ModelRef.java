package ugm.job.config;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import ugm.io.AdapterRef;
import ugm.io.HubCache;

/**
 * A model (or Fisher) as a config or the options name it, and where it resolved, as mergekit reads
 * it: a local path, relative to the working directory; else, when no such path exists, a Hugging
 * Face model id {@code org/name} or {@code org/name@revision}, found in the local cache (never
 * downloaded); or {@code BASE+ADAPTER} ({@link AdapterRef}: a LoRA adapter applied to a base), each
 * side a path or a model id, whose {@code path} is the two resolved paths joined by {@code +}. A reference that resolves to nothing is kept with the reason, reported when the
 * merge opens it.
 *
 * @param written  the text as written
 * @param path     where it resolved (an absolute local path, or the cache's snapshot folder); for a
 *                 reference that did not resolve, the local path tried
 * @param hubId    the model id when it came from the cache, else null
 * @param revision the revision written after {@code @} for a model from the cache, else null
 * @param missing  null, or why there is nothing at the reference, worded to follow its role ("model", "Fisher")
 */
public record ModelRef(String written, Path path, String hubId, String revision, String missing) {

    /**
     * Resolves {@code written}: the local path when it exists, else the hub id in {@code cache}.
     * {@code configDir} (null for none) is only for the hint when a relative path is found there
     * instead, where ugm used to look.
     *
     * @throws ConfigException when {@code written} cannot be a path on this system (a NUL character, ...)
     */
    public static ModelRef resolve(String written, Path configDir, HubCache cache) {
        Path local;
        try {
            local = Path.of(written).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException("'" + written + "' is not a path: " + e.getReason());
        }
        if (!written.isEmpty() && Files.exists(local)) {
            return new ModelRef(written, local, null, null, null);
        }
        AdapterRef lora = AdapterRef.parse(null, written);
        if (lora != null) { // BASE+ADAPTER: each side a reference of its own (no '+' in it unless it exists)
            ModelRef base = resolve(lora.base().toString(), configDir, cache);
            ModelRef adapter = resolve(lora.adapter().toString(), configDir, cache);
            return new ModelRef(written, Path.of(new AdapterRef(base.path(), adapter.path()).toString()), null, null,
                    base.missing() != null ? base.missing() : adapter.missing());
        }
        int at = written.indexOf('@');
        String id = at < 0 ? written : written.substring(0, at);
        String revision = at < 0 ? null : written.substring(at + 1);
        boolean idShaped = HubCache.isRepoId(id) && (revision == null || HubCache.isRevision(revision));
        Path snapshot = idShaped ? cache.snapshot(id, revision) : null;
        if (snapshot != null) {
            return new ModelRef(written, snapshot, id, revision, null);
        }
        if (configDir != null && !written.isEmpty() && !Path.of(written).isAbsolute()
                && Files.exists(configDir.resolve(written))) {
            return new ModelRef(written, local, null, null, "not found: " + local + " (paths are relative to the working"
                    + " directory, as in mergekit; relative to the config file it is " + configDir.resolve(written).normalize() + ")");
        }
        if (!idShaped) {
            return new ModelRef(written, local, null, null, "not found: " + local);
        }
        return new ModelRef(written, local, null, null, written + " is not in the Hugging Face cache (" + cache.root()
                + ") and " + local + " does not exist; fetch it with: " + HubCache.downloadCommand(id, revision));
    }

    /** The folder of the model's other files (config.json, tokenizer): the base's for {@code BASE+ADAPTER}. */
    public Path folder() {
        return AdapterRef.modelFolder(path);
    }

    /** Whether it came from the Hugging Face cache. */
    public boolean fromHub() {
        return hubId != null;
    }

    /**
     * As a config names it to resolve it again: the hub id (with its revision) for a model from
     * the cache, else the absolute path.
     */
    public String toConfig() {
        return fromHub() ? hubId + (revision == null ? "" : "@" + revision) : path.toString();
    }

    /** A model from the cache by its id, anything else by its path. */
    @Override
    public String toString() {
        return fromHub() ? toConfig() : path.toString();
    }
}
