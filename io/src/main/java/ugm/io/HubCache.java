package ugm.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import ugm.core.UgmException;

/**
 * The local Hugging Face hub cache, as {@code huggingface_hub} lays it out, read only: ugm never
 * downloads. A model {@code org/name} lives in {@code <root>/models--org--name/}; its file
 * {@code refs/<branch>} holds a commit sha, and {@code snapshots/<sha>/} holds that commit's files
 * as links into {@code ../../blobs/}.
 */
public final class HubCache {
    private static final Pattern SHA = Pattern.compile("[0-9a-f]{40}");
    /** A repository name or owner, as the hub accepts them: letters, digits, {@code . _ -}. */
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9._-]+");
    /** A branch or tag: also slashes ({@code refs/pr/1}). */
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9._/-]+");

    private final Path root;

    public HubCache(Path root) {
        this.root = root;
    }

    /** The cache {@code huggingface_hub} uses in this environment: see {@link #root(Map, Path)}. */
    public static HubCache fromEnvironment() {
        return new HubCache(root(System.getenv(), Path.of(System.getProperty("user.home"))));
    }

    /**
     * The cache root as {@code huggingface_hub} finds it: {@code $HF_HUB_CACHE}, else
     * {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else
     * {@code ~/.cache/huggingface/hub} (a leading {@code ~} is the home folder).
     */
    public static Path root(Map<String, String> env, Path home) {
        String hubCache = env.get("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isEmpty()) {
            return expand(hubCache, home);
        }
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isEmpty()) {
            return expand(hfHome, home).resolve("hub");
        }
        String xdg = env.get("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isEmpty() ? expand(xdg, home) : home.resolve(".cache");
        return cache.resolve("huggingface").resolve("hub");
    }

    private static Path expand(String p, Path home) {
        return p.equals("~") ? home : p.startsWith("~/") ? home.resolve(p.substring(2)) : Path.of(p);
    }

    public Path root() {
        return root;
    }

    /**
     * Whether {@code id} is a model id the hub accepts: {@code name} or {@code org/name}, each of
     * letters, digits and {@code . _ -}, not starting or ending with {@code .} or {@code -}, without
     * {@code --} or {@code ..}, at most 96 characters.
     */
    public static boolean isRepoId(String id) {
        if (id.length() > 96 || id.contains("--") || id.contains("..")) {
            return false;
        }
        String[] parts = id.split("/", -1);
        if (parts.length > 2) {
            return false;
        }
        for (String part : parts) {
            if (!PART.matcher(part).matches() || part.startsWith(".") || part.startsWith("-") || part.endsWith(".")
                    || part.endsWith("-")) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code revision} can name a branch, tag or commit: no {@code ..}, no leading or trailing slash. */
    public static boolean isRevision(String revision) {
        return REVISION.matcher(revision).matches() && !revision.contains("..") && !revision.startsWith("/")
                && !revision.endsWith("/") && !revision.contains("//");
    }

    /**
     * The snapshot folder of model {@code id} (see {@link #isRepoId}) at {@code revision} (a
     * branch, tag or full commit sha; null: {@code main}), or null when the cache does not hold it.
     */
    public Path snapshot(String id, String revision) {
        if (!isRepoId(id) || revision != null && !isRevision(revision)) {
            return null;
        }
        Path repo = root.resolve("models--" + id.replace("/", "--"));
        String rev = revision == null ? "main" : revision;
        String sha = SHA.matcher(rev).matches() ? rev : commit(repo.resolve("refs").resolve(rev));
        if (sha == null) {
            return null;
        }
        Path snapshot = repo.resolve("snapshots").resolve(sha);
        return Files.isDirectory(snapshot) ? snapshot : null;
    }

    /** The commit sha a ref file holds, or null when there is none (or it holds no sha). */
    private static String commit(Path ref) {
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        try (InputStream in = Files.newInputStream(ref)) {
            String sha = new String(in.readNBytes(64), StandardCharsets.US_ASCII).strip();
            return SHA.matcher(sha).matches() ? sha : null;
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, "cannot read " + ref + ": " + e.getMessage(), e);
        }
    }

    /** The command that puts {@code id} (at {@code revision}, if not null) into the cache. */
    public static String downloadCommand(String id, String revision) {
        return "huggingface-cli download " + id + (revision == null ? "" : " --revision " + revision);
    }
}
